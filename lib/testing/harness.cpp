#include "tasker/testing.hpp"

#include <fmt/format.h>

#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>

#include "tasker/command_handler.hpp"

namespace tasker::testing {

namespace {
std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

/// `url` with one more query option (`key=value`).
std::string with_option(const std::string& url, const std::string& option) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + option;
}

std::string postgres_server_url() {
  std::string url = env_or("TASKER_TEST_DATABASE_URL", "");
  if (!url.empty()) return url;
  std::string file = env_or("TASKER_TEST_DATABASE_URL_FILE", "");
  if (file.empty()) return {};
  std::ifstream in(file);
  if (!in)
    throw ConfigurationError("TASKER_TEST_DATABASE_URL_FILE", file,
                             "cannot read the file; was the test PostgreSQL server started (ctest fixture "
                             "`postgres_server`)?");
  std::getline(in, url);
  return url;
}
}  // namespace

std::string_view to_string(Backend backend) { return backend == Backend::sqlite ? "sqlite" : "postgres"; }
std::string_view to_string(HandlerKind kind) {
  switch (kind) {
    case HandlerKind::cpp: return "cpp";
    case HandlerKind::command: return "command";
    case HandlerKind::persistent: break;
  }
  return "persistent";
}

Backend backend_from_environment() {
  std::string v = env_or("TASKER_TEST_BACKEND", "sqlite");
  if (v == "sqlite") return Backend::sqlite;
  if (v == "postgres" || v == "postgresql") return Backend::postgres;
  throw ConfigurationError("TASKER_TEST_BACKEND", "the environment", fmt::format("`{}` is not sqlite or postgres", v));
}

HandlerKind handler_kind_from_environment() {
  std::string v = env_or("TASKER_TEST_HANDLERS", "cpp");
  if (v == "cpp") return HandlerKind::cpp;
  if (v == "command") return HandlerKind::command;
  if (v == "persistent") return HandlerKind::persistent;
  throw ConfigurationError("TASKER_TEST_HANDLERS", "the environment",
                           fmt::format("`{}` is not cpp, command or persistent", v));
}

std::string postgres_url_from_environment() {
  std::string url = postgres_server_url();
  const std::string options = env_or("TASKER_TEST_DATABASE_URL_OPTIONS", "");
  if (url.empty() || options.empty()) return url;
  return with_option(url, options);
}

double timeout_scale() {
  const std::string v = env_or("TASKER_TEST_TIMEOUT_SCALE", "1");
  char* end = nullptr;
  const double scale = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || *end != '\0' || !(scale >= 1) || scale > 1000)
    throw ConfigurationError("TASKER_TEST_TIMEOUT_SCALE", "the environment",
                             fmt::format("`{}` is not a number from 1 to 1000 (it multiplies the tests' waits, e.g. "
                                         "3 on a loaded machine)",
                                         v));
  return scale;
}

std::chrono::milliseconds scaled(std::chrono::milliseconds limit) {
  return std::chrono::milliseconds{
      static_cast<std::chrono::milliseconds::rep>(static_cast<double>(limit.count()) * timeout_scale())};
}

WorkerOptions HarnessOptions::test_worker_options() {
  WorkerOptions o;
  o.concurrency = 4;
  o.lease = std::chrono::seconds{5};
  o.fallback_interval = std::chrono::milliseconds{20};
  o.stop_grace = std::chrono::seconds{5};
  o.jitter = false;  // retry delays as the template says, so tests can check them
  return o;
}

Harness::Harness(HarnessOptions options) : options_(std::move(options)) {
  const std::string id = new_uuid();
  if (options_.backend == Backend::sqlite) {
    sqlite_file_ = std::filesystem::temp_directory_path() / fmt::format("tasker-harness-{}.db", id);
    url_ = "sqlite://" + sqlite_file_.string();  // absolute path: sqlite:///tmp/...
  } else {
    if (options_.postgres_url.empty())
      throw ConfigurationError("TASKER_TEST_DATABASE_URL", "the environment",
                               "the postgres backend needs a server: set TASKER_TEST_DATABASE_URL "
                               "(scripts/pg-test-server start DIR PORT prints one)");
    // Each harness gets its own schema, so tests can run in parallel on one server.
    std::string schema = "t_" + id.substr(0, 8) + id.substr(9, 4);
    url_ = with_option(options_.postgres_url, "schema=" + schema);
  }
  store_ = open_store(url_);
  templates_ = std::make_shared<TemplateSet>(options_.template_paths.empty()
                                                 ? TemplateSet{}
                                                 : TemplateSet::load(options_.template_paths, {options_.environment}));
  client_ = std::make_unique<Client>(store_, templates_, ClientOptions{options_.clock, events_});
  client_api_ = std::make_unique<ClientApi>(*client_);
  if (options_.surface) surface_ = options_.surface(*this);
}

Harness::~Harness() {
  stop_worker();
  surface_.reset();
  client_.reset();
  store_.reset();
  if (!sqlite_file_.empty()) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(sqlite_file_.string() + suffix, ec);
  }
}

void Harness::register_handler(const std::string& callable, StepHandler cpp) {
  handlers_->add(callable, std::move(cpp));
}

void Harness::register_handler(const std::string& callable, StepHandler cpp, std::vector<std::string> command) {
  if (options_.handler_kind == HandlerKind::cpp) {
    handlers_->add(callable, std::move(cpp));
    return;
  }
  if (command.empty())
    throw InvalidRequestError(
        fmt::format("the harness runs command handlers, but `{}` has no command: give its argv, or register it with "
                    "register_handler(callable, handler) to run the C++ handler whatever the handler kind",
                    callable));
  CommandSpec spec;
  spec.argv = std::move(command);
  spec.callable = callable;
  spec.persistent = options_.handler_kind == HandlerKind::persistent;
  handlers_->add(callable, make_command_handler(std::move(spec)));
}

void Harness::start_worker() {
  if (surface_) {
    surface_->start_workers();
    return;
  }
  if (worker_) return;
  WorkerOptions o = options_.worker;
  o.clock = options_.clock;
  worker_ = std::make_unique<Worker>(store_, handlers_, o, events_);
  worker_->start();
}

void Harness::stop_worker() {
  if (surface_) surface_->stop_workers();
  if (worker_) worker_->stop();
  worker_.reset();
}

Worker& Harness::worker() {
  if (!worker_) throw HarnessError("the harness worker is not running: call start_worker() first");
  return *worker_;
}

std::unique_ptr<Worker> Harness::make_worker(WorkerOptions options) {
  if (!options.clock) options.clock = options_.clock;
  if (!options.jitter) options.jitter = options_.worker.jitter;
  return std::make_unique<Worker>(store_, handlers_, std::move(options), events_);
}

TaskRequest Harness::create_task_request(const std::string& namespace_name, const std::string& name,
                                         json context) const {
  TaskRequest r;
  r.namespace_name = namespace_name;
  r.name = name;
  r.context = std::move(context);
  r.initiator = "tasker::testing::Harness";
  r.source_system = "test";
  r.reason = "e2e test";
  return r;
}

TaskRequest Harness::create_task_request_with_bypass(const std::string& namespace_name, const std::string& name,
                                                     json context, std::vector<std::string> bypass_steps) const {
  TaskRequest r = create_task_request(namespace_name, name, std::move(context));
  r.bypass_steps = std::move(bypass_steps);
  return r;
}

TaskView Harness::submit(const TaskRequest& request) { return api().submit(request); }

std::string Harness::describe_task(const std::string& task_uuid) {
  const TaskSnapshot snap = api().snapshot(task_uuid);
  const TaskView& t = snap.task;
  std::string out = fmt::format("task {} ({}/{}@{}) is {} ({}, {:.0f}% complete)\n", t.uuid, t.namespace_name, t.name,
                                t.version, to_string(t.state), to_string(t.execution_status), t.completion_percentage);
  for (const auto& s : snap.steps) {
    out += fmt::format("  {:<28} {:<18} attempts {}/{}", s.name, to_string(s.state), s.attempts, s.max_attempts);
    if (s.error) out += fmt::format("  last error [{}]: {}", s.error->error_type, s.error->message);
    out += "\n";
  }
  return out;
}

TaskView Harness::wait_for(const std::string& task_uuid, const std::function<bool(const TaskView&)>& done,
                           const std::string& what, std::chrono::milliseconds timeout) {
  // Woken by this process's lifecycle events; the short poll covers other processes.
  std::mutex m;
  std::condition_variable changed;
  auto subscription = events_->subscribe("*", [&](const LifecycleEvent& e) {
    if (e.task_uuid == task_uuid) changed.notify_all();
  });
  struct Unsubscribe {
    EventBus& bus;
    EventBus::SubscriptionId id;
    ~Unsubscribe() { bus.unsubscribe(id); }
  } unsubscribe{*events_, subscription};
  timeout = scaled(timeout);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    TaskView t = api().get_task(task_uuid);
    if (done(t)) return t;
    if (std::chrono::steady_clock::now() >= deadline)
      throw HarnessError(
          fmt::format("timed out after {} ms (TASKER_TEST_TIMEOUT_SCALE multiplies this limit) waiting for {}:\n{}",
                      timeout.count(), what, describe_task(task_uuid)));
    std::unique_lock lock(m);
    changed.wait_for(lock, std::chrono::milliseconds{25});
  }
}

TaskView Harness::wait_for_task_completion(const std::string& task_uuid, std::chrono::milliseconds timeout) {
  return wait_for(
      task_uuid,
      [&](const TaskView& t) {
        if (t.state == TaskState::complete || t.state == TaskState::resolved_manually) return true;
        if (is_terminal(t.state))
          throw HarnessError(fmt::format("expected task {} to complete, but it ended {}:\n{}", task_uuid,
                                         to_string(t.state), describe_task(task_uuid)));
        return false;
      },
      "the task to complete", timeout);
}

TaskView Harness::wait_for_task_failure(const std::string& task_uuid, std::chrono::milliseconds timeout) {
  return wait_for(
      task_uuid,
      [&](const TaskView& t) {
        if (t.state == TaskState::error) return true;
        if (is_terminal(t.state))
          throw HarnessError(fmt::format("expected task {} to fail, but it ended {}:\n{}", task_uuid,
                                         to_string(t.state), describe_task(task_uuid)));
        return false;
      },
      "the task to fail", timeout);
}

}  // namespace tasker::testing
