#pragma once
// The network side of tasker's HTTP surfaces (internal): connections, TLS,
// HTTP/1.1 framing, deadlines and limits, on Boost.Beast over Asio (the only
// translation unit that includes them: they are heavy to compile). It knows
// nothing of routes: it hands each request's header to a Dispatcher before it
// reads any body, and the whole request after.
#include <memory>
#include <optional>
#include <string>

#include "http_message.hpp"
#include "tasker/config.hpp"

namespace tasker::server {

/// What the Dispatcher decides from a request's header.
struct Admission {
  /// Answer this without reading the body; the connection is closed after.
  std::optional<Response> refusal;
  /// Cheap and never blocking (health, static files): run on the I/O thread,
  /// so it is answered however busy the handler threads are.
  bool on_io_thread{false};
  const void* route{nullptr};  ///< the Dispatcher's own, passed back to handle()
};

/// The side of HttpCore the listener calls. Called from the I/O thread
/// (admit, error) and from the handler threads (handle), concurrently.
class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  /// `head` has everything but the body; may set its fields (request_id, path, matches).
  virtual Admission admit(Request& head) = 0;
  /// The answer to a whole request admitted with `admission`. Never throws.
  virtual Response handle(Request& request, const Admission& admission) = 0;
  /// The answer to a request the listener refuses itself (malformed, over a
  /// limit, late, overloaded): tasker-core's error body. `head` may be empty.
  virtual Response error(const Request& head, int status, const std::string& code, const std::string& message) = 0;
  /// A connection refused at accept (`reason`: connections, per_client).
  virtual void connection_refused(const char* reason) = 0;
};

class Listener {
 public:
  /// Loads the TLS certificate and key when configured. Throws
  /// ConfigurationError when they cannot be loaded. `what` names the surface.
  Listener(const ServerSettings& settings, Dispatcher& dispatcher, std::string what);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  /// Binds `host`:`port` (0: any free port) and serves on background threads;
  /// returns the bound port. Throws Error when the address cannot be bound.
  int start(const std::string& host, int port);
  /// Stops accepting, closes the connections that wait between or inside
  /// requests' headers and bodies, lets the requests being handled finish and
  /// answer within server.shutdown_grace_ms, then closes everything. Idempotent.
  void stop();

  struct Impl;  ///< the listener's state, shared with its connections (http_listener.cpp)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tasker::server
