#pragma once
// What tasker's two HTTP surfaces share (internal): routes, authentication by
// API key or JWT (before any body is read), the keyless mode's refusals of
// other sites, tasker-core's error body, request ids, answers' limits and
// compression, over the Listener (http_listener.hpp) that owns the network.
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "http_listener.hpp"
#include "http_message.hpp"
#include "jwt_verifier.hpp"
#include "tasker/config.hpp"
#include "tasker/json.hpp"

namespace tasker::server {

/// An error response: `{"error": {"code", "message", ...extra}}` with `status`.
class ApiError : public std::exception {
 public:
  ApiError(int status, std::string code, std::string message, json extra = json::object())
      : status_(status), code_(std::move(code)), message_(std::move(message)), extra_(std::move(extra)) {}
  [[nodiscard]] const char* what() const noexcept override { return message_.c_str(); }
  [[nodiscard]] int status() const { return status_; }
  [[nodiscard]] const std::string& code() const { return code_; }
  [[nodiscard]] json body() const;

 private:
  int status_;
  std::string code_;
  std::string message_;
  json extra_;
};

void write_json(Response& res, int status, const json& body);
/// The error body; 503 gets Retry-After, 401 WWW-Authenticate.
void write_error(Response& res, const ApiError& error);

/// A request's failure as the API reports it: ApiError as is, tasker's errors
/// as their statuses, anything else 500 with the detail in the log (cut to a
/// bound) under `req`'s request id, never in the answer.
ApiError to_api_error(const std::exception_ptr& failure, const Request& req);

/// The request body as JSON. Throws ApiError 400: JSON_ERROR for malformed
/// JSON or nesting deeper than `max_depth`, BAD_REQUEST naming the field for a
/// number beyond a double's range.
json parse_body(const Request& req, int max_depth);

/// A body's keys must be among `known` (a key tasker would not act on is
/// refused, not ignored): ApiError 400 naming the key and `what` has ("a schedule").
void check_body_keys(const json& body, const std::set<std::string>& known, std::string_view what);

/// A whole-number query parameter in min..max, or `fallback` when absent; ApiError 400 otherwise.
long long query_number(const Request& req, const std::string& name, long long fallback, long long min, long long max);
std::optional<std::string> query_text(const Request& req, const std::string& name);
/// Path match `index` as a uuid; ApiError 400 INVALID_UUID (naming `what`: "task") otherwise.
std::string uuid_param(const Request& req, std::size_t index, std::string_view what);

/// gzip `res`'s body when the request accepts it and it is text worth compressing.
void compress_if_accepted(const Request& req, Response& res);

/// Whether `host` (as in HOST:PORT) is a loopback address.
bool is_loopback(const std::string& host);

using Handler = std::function<void(const Request&, Response&)>;
/// Called after every routed request with its route pattern and status (metrics).
using RequestObserver = std::function<void(const std::string& route, const std::string& method, int status)>;
/// Called when a connection or an authentication is refused, with why (metrics).
using RefusalObserver = std::function<void(const std::string& reason)>;

/// Where a route's handler runs: on the handler threads (anything that may
/// block: the database, Graphviz), or on the I/O thread (a few microseconds
/// of work with nothing to wait for), so it is answered however busy they are.
enum class Runs { on_pool, on_io_thread };

/// Thread-safe once started; routes and observers are set before start().
class HttpCore : private Dispatcher {
 public:
  /// `what` names the surface in messages ("tasker serve"). Throws
  /// ConfigurationError for a bad listen address, neither API keys nor JWT on a
  /// non-loopback address, JWT settings or keys that cannot be used, or a TLS
  /// certificate or key that cannot be loaded.
  HttpCore(ServerSettings settings, std::string what);
  ~HttpCore() override;
  HttpCore(const HttpCore&) = delete;
  HttpCore& operator=(const HttpCore&) = delete;

  /// Register a route (`pattern` is a regex over the decoded path); `permission`
  /// empty: public. Handlers throw ApiError or tasker errors; both become
  /// the error body.
  void route(const std::string& method, const std::string& pattern, std::string permission, Handler handler,
             Runs runs = Runs::on_pool);
  void set_observer(RequestObserver observer) { observer_ = std::move(observer); }
  void set_auth_failure_observer(RefusalObserver observer) { auth_failed_ = std::move(observer); }
  void set_connection_refusal_observer(RefusalObserver observer) { connection_refused_ = std::move(observer); }

  /// Bind and serve on background threads. Throws Error when the address cannot be bound.
  void start();
  /// Listener::stop: stop accepting, let requests in progress finish within server.shutdown_grace_ms.
  void stop();
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url() const;
  [[nodiscard]] bool auth_enabled() const { return !settings_.api_keys.empty() || jwt_; }
  [[nodiscard]] const ServerSettings& settings() const { return settings_; }

 private:
  struct Route {
    std::string method;
    std::regex pattern;
    std::string label;  ///< as docs/api.md writes it: /v1/tasks/{}
    std::string permission;
    Handler handler;
    Runs runs;
  };

  Admission admit(Request& head) override;
  Response handle(Request& request, const Admission& admission) override;
  Response error(const Request& head, int status, const std::string& code, const std::string& message) override;
  void connection_refused(const char* reason) override;

  /// A refused authentication (401 or 403), with the reason the metric counts it under.
  class Refusal : public ApiError {
   public:
    Refusal(int status, std::string message, const char* reason)
        : ApiError(status, status == 401 ? "UNAUTHORIZED" : "FORBIDDEN", std::move(message)), reason_(reason) {}
    [[nodiscard]] const char* reason() const { return reason_; }  ///< missing, malformed, invalid, forbidden

   private:
    const char* reason_;
  };
  /// Throws Refusal unless the request carries an API key or a JWT with `permission`;
  /// returns who it is (Request::principal), empty without authentication.
  [[nodiscard]] std::string authorize(const Request& req, const std::string& permission) const;
  /// Throws ApiError 403 for what keyless mode refuses (a foreign Host, another site's write).
  void check_keyless(const Request& head) const;
  /// Counts the failure and logs it, at most one line each 10 s.
  void auth_failure(const Request& req, const Refusal& refusal) const;

  ServerSettings settings_;
  std::string what_;
  std::string host_;
  int requested_port_{0};
  int port_{0};
  std::unique_ptr<const JwtVerifier> jwt_;  ///< when server.jwt is set
  std::vector<Route> routes_;
  RequestObserver observer_;
  RefusalObserver auth_failed_;
  RefusalObserver connection_refused_;
  mutable std::mutex auth_log_mutex_;
  mutable std::chrono::steady_clock::time_point auth_logged_at_{};
  mutable int auth_unlogged_{0};
  std::unique_ptr<Listener> listener_;
};

}  // namespace tasker::server
