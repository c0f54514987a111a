#include "http_core.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <regex>

#include "base/log.hpp"
#include "tasker/errors.hpp"
#include "tasker/task.hpp"

namespace tasker::server {

json ApiError::body() const {
  json error = extra_;
  error["code"] = code_;
  error["message"] = message_;
  return {{"error", error}};
}

void write_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // Strings from the database were checked as UTF-8 when stored; `replace`
  // keeps a response from ever failing half-written.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void write_error(httplib::Response& res, const ApiError& error) {
  write_json(res, error.status(), error.body());
  if (error.status() == 503) res.set_header("Retry-After", "1");
}

json parse_body(const httplib::Request& req, int max_depth) {
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos)
    throw ApiError(400, "BAD_REQUEST",
                   "the request body is empty; send a JSON object (Content-Type: application/json)");
  struct TooDeep {};
  try {
    return json::parse(req.body, [max_depth](int depth, json::parse_event_t, json&) {
      if (depth > max_depth) throw TooDeep{};
      return true;
    });
  } catch (const TooDeep&) {
    throw ApiError(400, "JSON_ERROR",
                   fmt::format("the request body nests deeper than {} levels (server.max_json_depth)", max_depth));
  } catch (const json::parse_error& e) {
    throw ApiError(400, "JSON_ERROR", fmt::format("the request body is not valid JSON: {}", e.what()));
  }
}

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

namespace {

using Digest = std::array<unsigned char, 32>;

Digest sha256(std::string_view text) {
  Digest d{};
  unsigned int n = 0;
  EVP_Digest(text.data(), text.size(), d.data(), &n, EVP_sha256(), nullptr);
  return d;
}

Digest from_hex(const std::string& hex) {
  Digest d{};
  for (std::size_t i = 0; i < d.size(); ++i)
    d[i] = static_cast<unsigned char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return d;
}

bool grants(const std::vector<std::string>& permissions, const std::string& wanted) {
  const std::string resource = wanted.substr(0, wanted.find(':'));
  for (const auto& p : permissions)
    if (p == "*" || p == wanted || p == resource + ":*") return true;
  return false;
}

/// A request's failure as the API reports it. Internal detail (database
/// messages, exception texts) goes to the log with the request id, never to the client.
ApiError to_api_error(const std::exception_ptr& failure, const std::string& request_id, const httplib::Request& req) {
  auto internal = [&](const char* what, const std::string& detail) {
    detail::log().error("{} {} (request {}): {}: {}", req.method, req.path, request_id, what, detail);
  };
  try {
    std::rethrow_exception(failure);
  } catch (const ApiError& e) {
    return e;
  } catch (const DuplicateTaskError& e) {
    return ApiError(409, "CONFLICT", e.what(), {{"existing_task_uuid", e.existing_task_uuid()}});
  } catch (const NotFoundError& e) {
    return ApiError(404, "NOT_FOUND", e.what(), {{"resource", e.kind()}, {"id", e.id()}});
  } catch (const InvalidRequestError& e) {
    return ApiError(400, "BAD_REQUEST", e.what());
  } catch (const StorageInDoubtError& e) {
    internal("commit in doubt", e.what());
    return ApiError(503, "SERVICE_UNAVAILABLE",
                    "the database connection broke while committing: the change may or may not have been made; "
                    "read the resource back before repeating (submits with an idempotency_key repeat safely)");
  } catch (const TransientStorageError& e) {
    internal("database unavailable", e.what());
    return ApiError(
        503, "SERVICE_UNAVAILABLE",
        fmt::format("the database is unavailable; nothing was changed; retry later (request {})", request_id));
  } catch (const StorageError& e) {
    internal("database error", e.what());
    return ApiError(
        500, "DATABASE_ERROR",
        fmt::format("the database refused the operation; the server log has the details (request {})", request_id));
  } catch (const std::exception& e) {
    internal("internal error", e.what());
  } catch (...) {
    internal("internal error", "a non-standard exception");
  }
  return ApiError(500, "INTERNAL_ERROR",
                  fmt::format("internal error; the server log has the details (request {})", request_id));
}

/// cpp-httplib 0.11 answers every client that accepts Brotli (every browser)
/// with Brotli at its slowest setting, quality 11, and has no setting for it:
/// a 1,000-step task's 850 KB of JSON took 2.9 s to compress, gzip 30 ms. So
/// the request's Accept-Encoding loses `br` before httplib reads it. (The
/// request is httplib's own object, passed on as const.)
void offer_gzip_only(httplib::Request& req) {
  auto it = req.headers.find("Accept-Encoding");
  if (it == req.headers.end() || it->second.find("br") == std::string::npos) return;
  std::string kept;
  for (std::size_t start = 0; start < it->second.size();) {
    auto end = it->second.find(',', start);
    if (end == std::string::npos) end = it->second.size();
    std::string_view token(it->second.data() + start, end - start);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    if (token.find("br") == std::string_view::npos) kept += (kept.empty() ? "" : ", ") + std::string(token);
    start = end + 1;
  }
  it->second = kept;
}

/// The body for errors cpp-httplib answers itself (unparsable request, 413, 414, unknown route).
ApiError library_error(const httplib::Request& req, int status, const ServerSettings& settings) {
  switch (status) {
    case 404:
      return ApiError(404, "NOT_FOUND",
                      fmt::format("no route for {} {}; see /api-docs/openapi.json", req.method, req.path));
    case 405: return ApiError(405, "METHOD_NOT_ALLOWED", fmt::format("{} is not allowed on {}", req.method, req.path));
    case 413:
      return ApiError(
          413, "PAYLOAD_TOO_LARGE",
          fmt::format("the request body is larger than {} bytes (server.max_body_bytes)", settings.max_body_bytes));
    case 414: return ApiError(414, "URI_TOO_LONG", "the request URI is longer than 8192 bytes");
    case 400: {
      auto declared = req.get_header_value("Content-Length");
      if (!declared.empty() && req.body.size() < std::strtoull(declared.c_str(), nullptr, 10))
        return ApiError(408, "TIMEOUT",
                        fmt::format("the request body did not arrive within {} ms (server.read_timeout_ms)",
                                    settings.read_timeout_ms));
      return ApiError(400, "BAD_REQUEST", "the request could not be read: malformed, or not sent in time");
    }
    default:
      return ApiError(status, status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST",
                      fmt::format("the server answered {} {}", req.method, req.path));
  }
}

}  // namespace

HttpCore::HttpCore(ServerSettings settings, std::string what) : settings_(std::move(settings)), what_(std::move(what)) {
  auto colon = settings_.listen.rfind(':');
  const char* end = settings_.listen.data() + settings_.listen.size();
  auto parsed = colon == std::string::npos ? std::from_chars_result{end, std::errc::invalid_argument}
                                           : std::from_chars(settings_.listen.data() + colon + 1, end, requested_port_);
  if (colon == std::string::npos || colon == 0 || parsed.ec != std::errc{} || parsed.ptr != end ||
      requested_port_ < 0 || requested_port_ > 65535)
    throw ConfigurationError(
        "--listen / server.listen", what_,
        fmt::format("`{}` is not HOST:PORT (e.g. 127.0.0.1:8080, 0.0.0.0:8443, [::1]:0)", settings_.listen));
  host_ = settings_.listen.substr(0, colon);
  if (host_.size() > 2 && host_.front() == '[' && host_.back() == ']') host_ = host_.substr(1, host_.size() - 2);
  if (settings_.api_keys.empty() && !is_loopback(host_))
    throw ConfigurationError("server.api_keys", what_,
                             fmt::format("listening on {} (not a loopback address) needs API keys: configure "
                                         "server.api_keys or TASKER_API_KEYS (docs/api.md, \"Authentication\"), or "
                                         "listen on 127.0.0.1",
                                         settings_.listen));
  if (settings_.tls_cert.empty() != settings_.tls_key.empty())
    throw ConfigurationError(settings_.tls_cert.empty() ? "server.tls.cert" : "server.tls.key", what_,
                             "TLS needs both a certificate and a key");
  if (!settings_.tls_cert.empty()) {
    auto ssl = std::make_unique<httplib::SSLServer>(settings_.tls_cert.c_str(), settings_.tls_key.c_str());
    if (!ssl->is_valid())
      throw ConfigurationError("server.tls.cert", settings_.tls_cert,
                               fmt::format("cannot load the TLS certificate with key {}: check both are readable PEM "
                                           "files and that the key belongs to the certificate",
                                           settings_.tls_key));
    server_ = std::move(ssl);
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  auto& s = *server_;
  const int threads = settings_.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  s.set_payload_max_length(static_cast<std::size_t>(settings_.max_body_bytes));
  s.set_read_timeout(std::chrono::milliseconds{settings_.read_timeout_ms});
  s.set_write_timeout(std::chrono::milliseconds{settings_.write_timeout_ms});
  s.set_tcp_nodelay(true);  // small JSON answers: without it, Nagle and delayed ACKs add 40 ms to each
  s.set_keep_alive_max_count(1000);
  // An idle kept-alive connection holds a pool thread, and stop() waits it out;
  // shorter than a client's pause between requests, though, and the server
  // closes a connection just as the client reuses it (bench_http saw that at 2 s).
  s.set_keep_alive_timeout(5);
  s.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // a route's own error body
    write_error(res, library_error(req, res.status, settings_));
    return httplib::Server::HandlerResponse::Handled;
  }));
  // `..` or `.` as a path segment (also percent-encoded: the path is decoded
  // by now) is refused before routing, whether or not a route would match.
  s.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    offer_gzip_only(const_cast<httplib::Request&>(req));
    for (std::size_t start = 0; start <= req.path.size();) {
      auto stop = req.path.find('/', start);
      if (stop == std::string::npos) stop = req.path.size();
      std::string_view segment(req.path.data() + start, stop - start);
      if (segment == ".." || segment == ".") {
        write_error(res, ApiError(400, "BAD_REQUEST", "`.` and `..` are not allowed as path segments"));
        return httplib::Server::HandlerResponse::Handled;
      }
      start = stop + 1;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.set_exception_handler([](const httplib::Request& req, httplib::Response& res, const std::exception_ptr& e) {
    write_error(res, to_api_error(e, new_uuid(), req));
  });
}

HttpCore::~HttpCore() { stop(); }

void HttpCore::authorize(const httplib::Request& req, const std::string& permission) const {
  if (!auth_enabled() || permission.empty()) return;
  const std::string header = req.get_header_value("Authorization");
  if (header.empty())
    throw ApiError(401, "UNAUTHORIZED", "this route needs an API key: send `Authorization: Bearer TOKEN`");
  if (header.rfind("Bearer ", 0) != 0 || header.size() == 7)
    throw ApiError(401, "UNAUTHORIZED", "malformed Authorization header: expected `Bearer TOKEN`");
  const Digest presented = sha256(std::string_view(header).substr(7));
  // Every configured key is compared, in constant time, whichever matches.
  const ApiKey* match = nullptr;
  for (const auto& key : settings_.api_keys) {
    const Digest expected = from_hex(key.sha256);
    if (CRYPTO_memcmp(presented.data(), expected.data(), expected.size()) == 0) match = &key;
  }
  if (!match) throw ApiError(401, "UNAUTHORIZED", "the API key is not valid");
  if (!grants(match->permissions, permission))
    throw ApiError(403, "FORBIDDEN", fmt::format("API key `{}` lacks the permission `{}`", match->name, permission));
}

void HttpCore::route(const std::string& method, const std::string& pattern, std::string permission, Handler handler) {
  // Metrics label routes as written in docs/api.md: `/v1/tasks/{}` rather than the regex.
  std::string label = pattern;
  for (std::size_t at; (at = label.find("([^/]+)")) != std::string::npos;) label.replace(at, 7, "{}");
  auto wrapped = [this, label, method, permission = std::move(permission), handler = std::move(handler)](
                     const httplib::Request& req, httplib::Response& res) {
    const std::string request_id = new_uuid();
    res.set_header("x-request-id", request_id);
    res.set_header("X-Content-Type-Options", "nosniff");  // every answer is what its Content-Type says
    try {
      authorize(req, permission);
      handler(req, res);
    } catch (...) {
      write_error(res, to_api_error(std::current_exception(), request_id, req));
      if (res.status == 401) res.set_header("WWW-Authenticate", "Bearer");
    }
    if (observer_) observer_(label, method, res.status);
  };
  if (method == "GET")
    server_->Get(pattern, wrapped);
  else if (method == "POST")
    server_->Post(pattern, wrapped);
  else if (method == "PATCH")
    server_->Patch(pattern, wrapped);
  else if (method == "DELETE")
    server_->Delete(pattern, wrapped);
  else
    throw InvalidRequestError("unsupported method " + method);
}

void HttpCore::start() {
  if (thread_.joinable()) return;
  if (requested_port_ == 0)
    port_ = server_->bind_to_any_port(host_);
  else
    port_ = server_->bind_to_port(host_, requested_port_) ? requested_port_ : -1;
  if (port_ <= 0)
    throw Error(
        fmt::format("{} cannot listen on {}: the address is in use or not available on this machine; "
                    "choose another with --listen HOST:PORT",
                    what_, settings_.listen));
  // Bound already: connections wait in the backlog until the accept loop runs.
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

void HttpCore::stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

std::string HttpCore::url() const {
  const bool v6 = host_.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}", settings_.tls_cert.empty() ? "http" : "https", v6 ? "[" : "", host_,
                     v6 ? "]" : "", port_);
}

}  // namespace tasker::server
