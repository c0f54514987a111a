// A worker in its own process, for tests that kill one or share a database
// between several: runs the e2e handlers against --db until SIGTERM/SIGINT
// (then stops cleanly) or SIGKILL. Prints `ready <worker id>` once started.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include "handlers.hpp"
#include "tasker/command_handler.hpp"

int main(int argc, char** argv) {
  std::string url, kind = "cpp", id = "victim";
  long long lease_ms = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--db")
      url = argv[i + 1];
    else if (flag == "--handlers")
      kind = argv[i + 1];
    else if (flag == "--lease-ms")
      lease_ms = std::stoll(argv[i + 1]);
    else if (flag == "--id")
      id = argv[i + 1];
  }
  if (url.empty()) {
    std::cerr << "usage: tasker_e2e_worker --db URL [--handlers cpp|command|persistent] [--lease-ms N] [--id ID]\n";
    return 2;
  }
  auto registry = std::make_shared<tasker::HandlerRegistry>();
  const auto handler_kind = kind == "persistent" ? tasker::testing::HandlerKind::persistent
                            : kind == "command"  ? tasker::testing::HandlerKind::command
                                                 : tasker::testing::HandlerKind::cpp;
  e2e::for_each_handler(
      [&](const std::string& callable, tasker::StepHandler cpp, std::vector<std::string> command) {
        if (handler_kind == tasker::testing::HandlerKind::cpp) {
          registry->add(callable, std::move(cpp));
        } else {
          tasker::CommandSpec spec;
          spec.argv = std::move(command);
          spec.callable = callable;
          spec.persistent = handler_kind == tasker::testing::HandlerKind::persistent;
          registry->add(callable, tasker::make_command_handler(std::move(spec)));
        }
      },
      handler_kind);
  auto store = tasker::open_store(url);
  tasker::WorkerOptions options = tasker::testing::HarnessOptions::test_worker_options();
  options.worker_id = id;
  options.lease = std::chrono::milliseconds{lease_ms};
  // SIGTERM/SIGINT are taken with sigwait: blocked before the worker's threads start, so they inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  tasker::Worker worker(store, registry, options);
  worker.start();
  std::cout << "ready " << worker.id() << std::endl;
  int received = 0;
  sigwait(&stop_signals, &received);
  worker.stop();
  return 0;
}
