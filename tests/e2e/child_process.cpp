#include "child_process.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "tasker/errors.hpp"

extern char** environ;

namespace e2e {

ChildProcess::ChildProcess(std::vector<std::string> args, bool pipe_stdout) {
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

ChildProcess::~ChildProcess() {
  stop();
  if (out_ >= 0) close(out_);
}

std::string ChildProcess::first_line(std::chrono::milliseconds timeout) {
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

int ChildProcess::stop() {
  if (pid_ <= 0) return status_;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return status_;
}

}  // namespace e2e
