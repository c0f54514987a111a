#include "engine/persistent_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "engine/command_spec.hpp"

namespace tasker::detail {

namespace {

std::vector<std::string> persistent_environment(const CommandSpec& spec) {
  std::map<std::string, std::string> extra = spec.environment;
  extra["TASKER_PERSISTENT_PROTOCOL"] = std::to_string(kPersistentProtocolVersion);
  return command_environment(extra);
}

}  // namespace

// The pipes are members declared before process_, so they exist when it starts.
PersistentProcess::PersistentProcess(const CommandSpec& spec)
    : max_bytes_(spec.max_output_bytes),
      process_(command_argv(spec), persistent_environment(spec), spec.working_directory,
               {stdin_.read, stdout_.write, stderr_.write, {}}) {
  stdin_.close_read();
  stdout_.close_write();
  stderr_.close_write();
  for (int fd : {stdin_.write, stdout_.read, stderr_.read}) ::fcntl(fd, F_SETFL, O_NONBLOCK);
}

void PersistentProcess::read_available(Pipe& pipe, bool is_out) {
  std::array<char, 65536> buffer{};
  while (pipe.read >= 0) {
    const ssize_t n = ::read(pipe.read, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      pipe.close_read();
      return;
    }
    const auto size = static_cast<std::size_t>(n);
    if (!is_out) {
      if (err_.size() + size > max_bytes_) {
        too_much_ = true;
        continue;  // keep draining, so the process cannot block on a full pipe before it is stopped
      }
      err_.append(buffer.data(), size);
      continue;
    }
    if (out_pos_ > 0 && out_pos_ == out_.size()) out_.clear(), out_pos_ = out_scan_ = line_start_ = 0;
    if (const void* nl = ::memrchr(buffer.data(), '\n', size))
      line_start_ = out_.size() + static_cast<std::size_t>(static_cast<const char*>(nl) - buffer.data()) + 1;
    out_.append(buffer.data(), size);
    if (out_.size() - std::max(line_start_, out_pos_) > max_bytes_) {
      too_much_ = true;
      return;
    }
  }
}

bool PersistentProcess::pump(std::chrono::milliseconds wait) {
  input_.flush(stdin_);
  std::array<pollfd, 3> fds{};
  nfds_t n = 0;
  if (stdout_.read >= 0) fds[n++] = {stdout_.read, POLLIN, 0};
  if (stderr_.read >= 0) fds[n++] = {stderr_.read, POLLIN, 0};
  if (stdin_.write >= 0 && !input_.empty()) fds[n++] = {stdin_.write, POLLOUT, 0};
  if (n == 0) return false;
  if (::poll(fds.data(), n, static_cast<int>(wait.count())) > 0) {
    for (nfds_t i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == stdin_.write)
        input_.flush(stdin_);
      else
        read_available(fds[i].fd == stdout_.read ? stdout_ : stderr_, fds[i].fd == stdout_.read);
    }
  }
  return stdout_.read >= 0;
}

std::optional<std::string> PersistentProcess::next_line() {
  const std::size_t end = out_.find('\n', out_scan_);
  if (end == std::string::npos) {
    out_scan_ = out_.size();
    return std::nullopt;
  }
  std::string line = out_.substr(out_pos_, end - out_pos_);
  out_pos_ = out_scan_ = end + 1;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::string PersistentProcess::take_stderr() {
  read_available(stderr_, false);
  std::string out = std::move(err_);
  err_.clear();
  if (!out_.empty() && out_pos_ == out_.size()) out_.clear(), out_pos_ = out_scan_ = line_start_ = 0;
  return out;
}

bool PersistentProcess::usable_when_idle() {
  (void)take_stderr();
  too_much_ = false;
  if (stdout_.read < 0 || stdin_.write < 0) return false;
  pollfd out{stdout_.read, POLLIN, 0};
  // Anything on stdout now (bytes, or EOF) was not asked for: the process is out of step or gone.
  return ::poll(&out, 1, 0) == 0 && !has_unread_output();
}

void PersistentProcess::terminate(std::chrono::milliseconds grace) {
  signal(SIGTERM);
  const auto until = std::chrono::steady_clock::now() + grace;
  while (stdout_.read >= 0 && std::chrono::steady_clock::now() < until) {
    out_.clear(), out_pos_ = out_scan_ = line_start_ = 0;  // nothing it says now matters
    err_.clear();
    (void)pump(std::chrono::milliseconds{20});
  }
  signal(SIGKILL);
  (void)wait();
}

}  // namespace tasker::detail
