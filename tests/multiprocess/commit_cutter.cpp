#include "commit_cutter.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <regex>
#include <set>
#include <stdexcept>
#include <string_view>

namespace mp {

namespace {

// Untyped messages a client may send before its StartupMessage (SSLRequest,
// GSSENCRequest, CancelRequest): each is followed by another untyped one.
constexpr std::uint32_t kSslRequest = 80877103, kGssEncRequest = 80877104, kCancelRequest = 80877102;

std::uint32_t be32(const std::string& s, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

bool send_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

int connect_to(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  return fd;
}

}  // namespace

CommitCutter::CommitCutter(const std::string& server_url) {
  static const std::regex kUrl(R"(^(postgres(?:ql)?://[^@/]*@)([^:/?]+):(\d+)(.*)$)");
  std::smatch m;
  if (!std::regex_match(server_url, m, kUrl))
    throw std::runtime_error("CommitCutter: cannot find host:port in " + server_url);
  upstream_host_ = m[2];
  upstream_port_ = std::stoi(m[3]);

  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener_, 64) != 0 || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error(std::string("CommitCutter: cannot listen on 127.0.0.1: ") + std::strerror(errno));
  url_ = m[1].str() + "127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + m[4].str();
  acceptor_ = std::thread([this] { accept_loop(); });
}

CommitCutter::~CommitCutter() {
  stopping_ = true;
  acceptor_.join();  // it polls with a timeout and sees stopping_
  {
    std::lock_guard lock(mutex_);
    for (int fd : sockets_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : threads_) t.join();
  ::close(listener_);
}

void CommitCutter::cut_commit(int nth, Kind kind) {
  kind_ = kind;
  countdown_ = nth;
}

bool CommitCutter::commit_seen(Kind kind) {
  if (kind != kind_.load()) return false;
  int left = countdown_.load();
  while (left > 0 && !countdown_.compare_exchange_weak(left, left - 1)) {
  }
  return left == 1;
}

void CommitCutter::accept_loop() {
  while (!stopping_) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    int server = connect_to(upstream_host_, upstream_port_);
    if (server < 0) {
      ::close(client);  // the client sees a refused connection, as without the proxy
      continue;
    }
    std::lock_guard lock(mutex_);
    sockets_.push_back(client);
    sockets_.push_back(server);
    threads_.emplace_back([this, client, server] { relay(client, server); });
  }
}

void CommitCutter::relay(int client, int server) {
  std::string pending;  // the client's bytes not yet parsed into whole messages
  bool startup = true;  // before the StartupMessage, messages have no type byte
  bool cut_on_reply = false;
  bool read_only = false;  // the open transaction began READ ONLY
  // Prepared statements that commit on their own: on PostgreSQL a submit and a
  // worker transaction are one call of a server function (the store's one_call.cpp).
  std::set<std::string, std::less<>> committing_statements;
  // A NUL-terminated string of the message starting at `at` (0: its type byte).
  auto c_string = [&](std::size_t& at) {
    const std::size_t end = pending.find('\0', at);
    std::string_view s(pending.data() + at, end - at);
    at = end + 1;
    return s;
  };
  // Find the end of each whole message the client sent. libpqxx begins and
  // commits with simple queries: `BEGIN[; SET TRANSACTION ... READ ONLY]`, `COMMIT`;
  // it prepares statements with Parse (name, text) and runs them with Bind (portal, name).
  auto scan = [&] {
    while (true) {
      if (startup) {
        if (pending.size() < 8 || pending.size() < be32(pending, 0)) return;
        const std::uint32_t code = be32(pending, 4);
        pending.erase(0, be32(pending, 0));
        startup = code == kSslRequest || code == kGssEncRequest || code == kCancelRequest;
        continue;
      }
      if (pending.size() < 5 || pending.size() < 1 + static_cast<std::size_t>(be32(pending, 1))) return;
      if (pending[0] == 'Q' || pending[0] == 'B') ++statements_;
      if (pending[0] == 'Q') {
        const std::string_view query(pending.data() + 5, be32(pending, 1) - 4);
        if (query.substr(0, 5) == "BEGIN") read_only = query.find("READ ONLY") != std::string_view::npos;
        if (query.substr(0, 6) == "COMMIT" && commit_seen(read_only ? Kind::read_only : Kind::writing))
          cut_on_reply = true;
      }
      if (pending[0] == 'P') {
        std::size_t at = 5;
        const std::string_view name = c_string(at);
        const std::string_view text = c_string(at);
        // Any version of the server functions (tasker_submit_v2, ...): each commits on its own.
        if (text.find("tasker_submit") != std::string_view::npos ||
            text.find("tasker_exchange") != std::string_view::npos)
          committing_statements.emplace(name);
      }
      if (pending[0] == 'B') {
        std::size_t at = 5;
        (void)c_string(at);  // the portal
        const std::string_view name = c_string(at);
        if (committing_statements.count(name) && commit_seen(Kind::writing)) cut_on_reply = true;
      }
      pending.erase(0, 1 + static_cast<std::size_t>(be32(pending, 1)));
    }
  };

  std::array<pollfd, 2> fds{pollfd{client, POLLIN, 0}, pollfd{server, POLLIN, 0}};
  std::array<char, 65536> buffer{};
  while (!stopping_) {
    int ready = ::poll(fds.data(), fds.size(), 100);
    if (ready <= 0) continue;
    if (fds[0].revents) {
      ssize_t n = ::recv(client, buffer.data(), buffer.size(), 0);
      if (n <= 0 || !send_all(server, buffer.data(), static_cast<std::size_t>(n))) break;
      pending.append(buffer.data(), static_cast<std::size_t>(n));
      scan();
    }
    if (fds[1].revents) {
      ssize_t n = ::recv(server, buffer.data(), buffer.size(), 0);
      if (n <= 0) break;
      if (cut_on_reply) {  // the server answered the COMMIT: it is done; the client never hears so
        ++cuts_;
        break;
      }
      if (!send_all(client, buffer.data(), static_cast<std::size_t>(n))) break;
    }
  }
  std::lock_guard lock(mutex_);
  for (int fd : {client, server}) {
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    sockets_.erase(std::remove(sockets_.begin(), sockets_.end(), fd), sockets_.end());
  }
}

}  // namespace mp
