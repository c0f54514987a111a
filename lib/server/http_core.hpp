#pragma once
// What tasker's two HTTP surfaces share (internal): cpp-httplib configured
// with the ServerSettings limits, TLS, API-key authentication, tasker-core's
// error body, request ids, and exceptions mapped to statuses.
#include <httplib.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

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

void write_json(httplib::Response& res, int status, const json& body);
void write_error(httplib::Response& res, const ApiError& error);

/// The request body as JSON (an object unless `any` is set). Throws ApiError
/// 400 JSON_ERROR for malformed JSON or nesting deeper than `max_depth`.
json parse_body(const httplib::Request& req, int max_depth);

/// Whether `host` (as in HOST:PORT) is a loopback address.
bool is_loopback(const std::string& host);

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
/// Called after every routed request with its route pattern and status (metrics).
using RequestObserver = std::function<void(const std::string& route, const std::string& method, int status)>;

class HttpCore {
 public:
  /// `what` names the surface in messages ("tasker serve"). Throws
  /// ConfigurationError for a bad listen address, missing API keys on a
  /// non-loopback address, or a TLS certificate or key that cannot be loaded.
  HttpCore(ServerSettings settings, std::string what);
  ~HttpCore();
  HttpCore(const HttpCore&) = delete;
  HttpCore& operator=(const HttpCore&) = delete;

  /// Register a route (`pattern` is a regex over the path); `permission`
  /// empty: public. Handlers throw ApiError or tasker errors; both become
  /// the error body.
  void route(const std::string& method, const std::string& pattern, std::string permission, Handler handler);
  void set_observer(RequestObserver observer) { observer_ = std::move(observer); }

  /// Bind and serve on background threads. Throws Error when the address cannot be bound.
  void start();
  void stop();
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url() const;
  [[nodiscard]] bool auth_enabled() const { return !settings_.api_keys.empty(); }
  [[nodiscard]] const ServerSettings& settings() const { return settings_; }

 private:
  /// Throws ApiError 401/403 unless the request carries a key with `permission`.
  void authorize(const httplib::Request& req, const std::string& permission) const;

  ServerSettings settings_;
  std::string what_;
  std::string host_;
  int requested_port_{0};
  int port_{0};
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  RequestObserver observer_;
};

}  // namespace tasker::server
