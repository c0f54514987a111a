#include "common/child.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "tasker/testing.hpp"

extern char** environ;

namespace test_support {

bool eventually(const std::function<bool()>& condition, milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + tasker::testing::scaled(limit);
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds{10});
  }
  return true;
}

namespace {
void make_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(fmt::format("pipe2: {}", std::strerror(errno)));
}
}  // namespace

Child::Child(std::string name, const std::vector<std::string>& args, bool pipe_stdin,
             const std::filesystem::path& stderr_file)
    : name_(std::move(name)) {
  int out[2];
  int in[2] = {-1, -1};
  make_pipe(out);
  if (pipe_stdin) make_pipe(in);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);  // dup2 clears O_CLOEXEC
  if (pipe_stdin) posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  if (!stderr_file.empty())
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  argv.reserve(copy.size() + 1);
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (pipe_stdin) ::close(in[0]);
  if (rc != 0) {
    ::close(out[0]);
    if (pipe_stdin) ::close(in[1]);
    throw std::runtime_error(fmt::format("cannot start {} ({}): {}", name_, args.front(), std::strerror(rc)));
  }
  out_ = out[0];
  in_ = pipe_stdin ? in[1] : -1;
}

Child::~Child() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_ >= 0) ::close(out_);
  if (in_ >= 0) ::close(in_);
}

std::string Child::read_line(milliseconds timeout) {
  timeout = tasker::testing::scaled(timeout);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      throw std::runtime_error(fmt::format("{} printed no line within {} ms", name_, timeout.count()));
    pollfd p{out_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char chunk[4096];
    ssize_t n = ::read(out_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(fmt::format("{} closed its output (exited?) before printing a line", name_));
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

void Child::write_line(const std::string& line) {
  std::string data = line + "\n";
  if (::write(in_, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    throw std::runtime_error(fmt::format("cannot write to {}: {}", name_, std::strerror(errno)));
}

void Child::signal(int sig) {
  if (!reaped_) ::kill(pid_, sig);
}

std::optional<int> Child::wait(milliseconds timeout) {
  if (reaped_) return 0;
  const auto deadline = std::chrono::steady_clock::now() + tasker::testing::scaled(timeout);
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return status;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(milliseconds{10});
  }
}

bool Child::running() {
  if (reaped_) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    reaped_ = true;
    return false;
  }
  return true;
}

}  // namespace test_support
