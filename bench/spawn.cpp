// What starting a command handler costs per attempt (docs/performance.md):
//
//   bench_spawn [--runs N] [--rss-mb M]
//
// times N starts of /bin/true three ways, in a process that first touches M MB
// of memory (fork copies the page tables of what the worker holds):
//   posix_spawn    posix_spawn + waitpid: what command handlers did before each
//                  attempt got a supervisor (the floor: no fork of the worker)
//   supervised     the supervisor (lib/engine/supervised_process.cpp): a fork of
//                  the worker that forks and execs the command, then waits
//   handler        a whole attempt of make_command_handler: the supervisor, the
//                  step input on stdin, stdout and stderr drained, JSON parsed
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/supervised_process.hpp"
#include "tasker/command_handler.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

void report(const std::string& name, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[static_cast<std::size_t>(q * static_cast<double>(us.size() - 1))]; };
  fmt::print("{:<14} median {:>7.0f} us   p90 {:>7.0f} us   p99 {:>7.0f} us\n", name, at(0.5), at(0.9), at(0.99));
}

std::vector<double> time_runs(int runs, const std::function<void()>& start_one) {
  std::vector<double> us;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    start_one();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 500;
  long rss_mb = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--runs") == 0)
      runs = std::max(1, std::atoi(argv[i + 1]));
    else if (std::strcmp(argv[i], "--rss-mb") == 0)
      rss_mb = std::max(0L, std::atol(argv[i + 1]));
  }
  std::vector<char> held(static_cast<std::size_t>(rss_mb) << 20, 1);  // touched: resident
  fmt::print("{} starts of /bin/true each, the process holding {} MB\n", runs, rss_mb);

  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  report("posix_spawn", time_runs(runs, [] {
           char arg0[] = "/bin/true";
           char* args[] = {arg0, nullptr};
           pid_t pid = -1;
           if (posix_spawn(&pid, arg0, nullptr, nullptr, args, environ) != 0) std::abort();
           int status = 0;
           waitpid(pid, &status, 0);
         }));
  report("supervised", time_runs(runs, [&] {
           tasker::detail::SupervisedProcess p({"/bin/true"}, env, {}, {0, 1, 2});
           if (p.failure()) std::abort();
           (void)p.wait();
         }));
  tasker::CommandSpec spec;
  spec.argv = {"/bin/true"};
  auto handler = tasker::make_command_handler(spec);
  const auto& clock = tasker::SystemClock::instance();
  report("handler", time_runs(runs, [&] {
           tasker::StepContext ctx("11111111-2222-4333-8444-555555555555", "bench", {}, {}, {}, 1,
                                   clock.now() + std::chrono::seconds{60}, clock);
           (void)handler(ctx);
         }));
  return held.empty() || held.back() == 1 ? 0 : 1;  // reads the memory, so it stays allocated and resident
}
