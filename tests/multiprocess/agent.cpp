// The multi-process suite's helper program: one process of the deployment
// under test, started by tests/multiprocess/multiprocess_test.cpp.
//
//   tasker_mp_agent worker --db URL --id ID [--lease-ms N] [--reclaim-ms N]
//                          [--concurrency N] [--batch N] [--mode polling_only|event_driven|hybrid]
//                          [--fallback-ms N] [--log FILE] [--hold true]
//       Runs a Worker with the handler `mp.work` until SIGTERM/SIGINT (then
//       stops gracefully and exits 0) or until it is killed. Prints
//       `ready ID` once the worker runs. With --log, every handler run appends
//       `S|E task_uuid step attempt worker epoch_ms` at its start and end, so
//       the test can line executions up with the recorded claims. With
//       --hold, a run never ends by itself (only when cancelled): a worker
//       about to be killed holds every step it started, however slow the
//       machine is.
//
//   tasker_mp_agent submit --db URL --templates DIR --namespace NS --name NAME [--context JSON]
//       Opens its own store, loads the templates, prints `ready`, waits for a
//       line on stdin (the test's starting gun), submits once, and prints one
//       JSON line: {"created": uuid} or {"duplicate": uuid, "message": ...} or
//       {"error": ..., "type": ...}.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "tasker/tasker.hpp"

namespace {

using tasker::json;

std::int64_t now_ms() { return tasker::to_epoch_ms(tasker::SystemClock::instance().now()); }

std::map<std::string, std::string> parse_flags(int argc, char** argv, int first) {
  std::map<std::string, std::string> flags;
  for (int i = first; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag.rfind("--", 0) != 0 || i + 1 >= argc) {
      std::cerr << "tasker_mp_agent: expected --flag value, got `" << flag << "`\n";
      std::exit(2);
    }
    flags[flag.substr(2)] = argv[++i];
  }
  return flags;
}

std::string need(const std::map<std::string, std::string>& flags, const std::string& name) {
  auto it = flags.find(name);
  if (it == flags.end()) {
    std::cerr << "tasker_mp_agent: --" << name << " is required\n";
    std::exit(2);
  }
  return it->second;
}

long long number(const std::map<std::string, std::string>& flags, const std::string& name, long long fallback) {
  auto it = flags.find(name);
  return it == flags.end() ? fallback : std::stoll(it->second);
}

/// Appends one line per handler start and end; written through to the kernel
/// at once, so a SIGKILL loses nothing already logged.
class ExecutionLog {
 public:
  explicit ExecutionLog(const std::string& path) : file_(path.empty() ? nullptr : std::fopen(path.c_str(), "a")) {
    if (!path.empty() && !file_) throw std::runtime_error("cannot open the execution log " + path);
  }
  ~ExecutionLog() {
    if (file_) std::fclose(file_);
  }
  void write(char what, const tasker::StepContext& ctx, const std::string& worker) {
    if (!file_) return;
    std::lock_guard lock(mutex_);
    std::fprintf(file_, "%c %s %s %d %s %lld\n", what, ctx.task_uuid().c_str(), ctx.step_name().c_str(), ctx.attempt(),
                 worker.c_str(), static_cast<long long>(now_ms()));
    std::fflush(file_);
  }

 private:
  std::FILE* file_;
  std::mutex mutex_;
};

int run_worker(const std::map<std::string, std::string>& flags) {
  // Block the stop signals before any thread starts, so that only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const std::string id = need(flags, "id");
  tasker::WorkerOptions options;
  options.worker_id = id;
  options.concurrency = static_cast<int>(number(flags, "concurrency", 4));
  options.batch_size = static_cast<int>(number(flags, "batch", 16));
  options.lease = std::chrono::milliseconds{number(flags, "lease-ms", 10'000)};
  options.reclaim_interval = std::chrono::milliseconds{number(flags, "reclaim-ms", 0)};
  options.fallback_interval = std::chrono::milliseconds{number(flags, "fallback-ms", 1'000)};
  options.stop_grace = std::chrono::seconds{5};
  std::string mode = flags.count("mode") ? flags.at("mode") : "hybrid";
  if (mode == "polling_only")
    options.event_mode = tasker::EventMode::polling_only;
  else if (mode == "event_driven")
    options.event_mode = tasker::EventMode::event_driven;
  else if (mode == "hybrid")
    options.event_mode = tasker::EventMode::hybrid;
  else {
    std::cerr << "tasker_mp_agent: unknown --mode " << mode << "\n";
    return 2;
  }

  auto log = std::make_shared<ExecutionLog>(flags.count("log") ? flags.at("log") : "");
  auto registry = std::make_shared<tasker::HandlerRegistry>();
  const bool hold = flags.count("hold") && flags.at("hold") == "true";
  registry->add("mp.work", [log, id, hold](tasker::StepContext& ctx) {
    log->write('S', ctx, id);
    const auto sleep = hold ? std::chrono::milliseconds{std::chrono::hours{24}}
                            : std::chrono::milliseconds{ctx.context().value("sleep_ms", 0LL)};
    const auto until = std::chrono::steady_clock::now() + sleep;
    while (std::chrono::steady_clock::now() < until && !ctx.cancelled())
      std::this_thread::sleep_for(std::min(sleep, std::chrono::milliseconds{5}));
    log->write('E', ctx, id);
    return json{{"worker", id}, {"attempt", ctx.attempt()}};
  });

  tasker::StoreOptions store_options;
  // A polling-only worker has no use for notifications: no LISTEN connection.
  store_options.listen = options.event_mode != tasker::EventMode::polling_only;
  auto store = tasker::open_store(need(flags, "db"), store_options);
  options.jitter = false;
  tasker::Worker worker(store, registry, options);
  worker.start();
  std::cout << "ready " << worker.id() << std::endl;

  int sig = 0;
  sigwait(&stop_signals, &sig);
  worker.stop();
  auto s = worker.stats();
  // One write, so that lines of workers stopping together do not interleave.
  std::string line = "tasker_mp_agent " + id + ": stopped on signal " + std::to_string(sig) + " (claimed " +
                     std::to_string(s.claimed) + ", succeeded " + std::to_string(s.succeeded) + ", discarded " +
                     std::to_string(s.discarded) + ", reclaimed " + std::to_string(s.reclaimed) + ", transactions " +
                     std::to_string(s.transactions) + ")\n";
  std::fputs(line.c_str(), stderr);
  return 0;
}

int run_submit(const std::map<std::string, std::string>& flags) {
  tasker::StoreOptions store_options;
  store_options.listen = false;
  auto store = tasker::open_store(need(flags, "db"), store_options);
  auto templates =
      std::make_shared<tasker::TemplateSet>(tasker::TemplateSet::load({need(flags, "templates")}, {"test"}));
  tasker::Client client(store, templates);
  tasker::TaskRequest request;
  request.namespace_name = need(flags, "namespace");
  request.name = need(flags, "name");
  request.context = json::parse(flags.count("context") ? flags.at("context") : "{}");
  request.initiator = "tasker_mp_agent";
  std::cout << "ready" << std::endl;

  std::string go;
  std::getline(std::cin, go);
  json out;
  try {
    out = {{"created", client.submit(request).uuid}};
  } catch (const tasker::DuplicateTaskError& e) {
    out = {{"duplicate", e.existing_task_uuid()}, {"message", e.what()}};
  } catch (const std::exception& e) {
    out = {{"error", e.what()}};
  }
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: tasker_mp_agent worker|submit --flag value ...\n";
    return 2;
  }
  std::string command = argv[1];
  try {
    auto flags = parse_flags(argc, argv, 2);
    if (command == "worker") return run_worker(flags);
    if (command == "submit") return run_submit(flags);
  } catch (const std::exception& e) {
    std::cerr << "tasker_mp_agent " << command << ": " << e.what() << "\n";
    return 1;
  }
  std::cerr << "tasker_mp_agent: unknown command " << command << "\n";
  return 2;
}
