// The HTTP surface: a `tasker serve` process and worker processes on the
// harness's database, every operation through HttpApi (the seed's single API client).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <vector>

#include "handlers.hpp"
#include "surface.hpp"
#include "tasker/errors.hpp"
#include "tasker/http_api.hpp"

extern char** environ;

namespace e2e {

bool http_surface() {
  const char* v = std::getenv("TASKER_TEST_SURFACE");
  std::string s = v ? v : "library";
  if (s == "library") return false;
  if (s == "http") return true;
  throw tasker::ConfigurationError("TASKER_TEST_SURFACE", "the environment", fmt::format("`{}` is not library or http", s));
}

namespace {

/// A child process, SIGTERMed and reaped on destruction; stdout optionally piped to us.
class Child {
 public:
  Child(std::vector<std::string> args, bool pipe_stdout) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    int fds[2] = {-1, -1};
    if (pipe_stdout) {
      if (pipe2(fds, O_CLOEXEC) != 0) throw tasker::Error("pipe failed");
      posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    }
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
    env_strings.emplace_back("TASKER_ENV=test");  // no retry jitter; the test overrides of templates
    std::vector<char*> envp, argv;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (pipe_stdout) close(fds[1]);
    out_ = fds[0];
    if (rc != 0) throw tasker::Error(fmt::format("cannot start {}: {}", args[0], strerror(rc)));
  }
  ~Child() {
    stop();
    if (out_ >= 0) close(out_);
  }
  /// The first line the child prints, waiting up to `timeout`.
  std::string first_line(std::chrono::milliseconds timeout) {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char c = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      if (read(out_, &c, 1) != 1) break;  // the child exited
      if (c == '\n') return line;
      line += c;
    }
    throw tasker::Error(fmt::format("the child process printed no line within {} ms (got `{}`); see its stderr above",
                                    timeout.count(), line));
  }
  /// SIGTERM and reap; the exit status (0: stopped cleanly).
  int stop() {
    if (pid_ <= 0) return status_;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return status_;
  }

 private:
  pid_t pid_{-1};
  int out_{-1};
  int status_{0};
};

class HttpSurface final : public tasker::testing::Surface {
 public:
  explicit HttpSurface(tasker::testing::Harness& h) : h_(h) {
    std::vector<std::string> args{TASKER_CLI_PATH, "serve", "--db", h.database_url(), "--env", h.options().environment,
                                  "--listen", "127.0.0.1:0"};
    for (const auto& p : h.options().template_paths) {
      args.emplace_back("--templates");
      args.push_back(p.string());
    }
    server_ = std::make_unique<Child>(args, true);
    api_ = std::make_unique<tasker::testing::HttpApi>(server_->first_line(std::chrono::seconds{60}));
  }
  ~HttpSurface() override {
    stop_workers();
    api_.reset();  // closes the kept-alive connection, which the server would otherwise wait out on stop
    server_.reset();
  }
  tasker::testing::TaskApi& api() override { return *api_; }
  void start_workers() override {
    if (worker_) return;
    worker_ = std::make_unique<Child>(
        std::vector<std::string>{TASKER_E2E_WORKER_PATH, "--db", h_.database_url(), "--handlers",
                                 std::string(tasker::testing::to_string(h_.handler_kind())), "--id", "http-surface-worker",
                                 "--lease-ms", std::to_string(h_.options().worker.lease.count())},
        false);
  }
  void stop_workers() override { worker_.reset(); }

 private:
  tasker::testing::Harness& h_;
  std::unique_ptr<Child> server_;
  std::unique_ptr<Child> worker_;
  std::unique_ptr<tasker::testing::HttpApi> api_;
};

}  // namespace

std::unique_ptr<tasker::testing::Surface> make_http_surface(tasker::testing::Harness& h) {
  return std::make_unique<HttpSurface>(h);
}

}  // namespace e2e
