#include "engine/pipes.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tasker/errors.hpp"

extern char** environ;

namespace tasker::detail {

Pipe::Pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw Error(fmt::format("pipe() failed: {}", std::strerror(errno)));
  read = fds[0];
  write = fds[1];
}

Pipe::~Pipe() {
  close_read();
  close_write();
}

void Pipe::close_read() {
  if (read >= 0) ::close(read), read = -1;
}

void Pipe::close_write() {
  if (write >= 0) ::close(write), write = -1;
}

SigpipeBlock::SigpipeBlock() {
  sigemptyset(&pipe_);
  sigaddset(&pipe_, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_, &previous_);
}

SigpipeBlock::~SigpipeBlock() {
  timespec zero{0, 0};
  while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
  }
  pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

void Outbox::add(std::string_view bytes) {
  if (empty()) pending.clear(), sent = 0;
  pending.append(bytes);
}

void Outbox::flush(Pipe& pipe) {
  while (!empty() && pipe.write >= 0) {
    const ssize_t n = ::write(pipe.write, pending.data() + sent, pending.size() - sent);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else {
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      pipe.close_write();  // the command stopped reading
      pending.clear();
      sent = 0;
    }
  }
  if (empty()) pending.clear(), sent = 0;
}

std::vector<std::string> command_environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    const auto eq = entry.find('=');
    if (eq != std::string::npos && extra.count(entry.substr(0, eq))) continue;  // replaced below
    out.push_back(entry);
  }
  for (const auto& [k, v] : extra) out.push_back(fmt::format("{}={}", k, v));
  return out;
}

}  // namespace tasker::detail
