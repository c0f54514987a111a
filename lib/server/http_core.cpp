#include "http_core.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <charconv>
#include <optional>

#include "base/log.hpp"
#include "tasker/errors.hpp"
#include "tasker/task.hpp"

namespace tasker::server {

namespace {

using Digest = std::array<unsigned char, 32>;

/// Longer targets are refused (414) before any route's regex sees them.
constexpr std::size_t kMaxTarget = 8192;
/// At most one log line about failed authentications in this long.
constexpr auto kAuthLogEvery = std::chrono::seconds{10};

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

bool changes_state(const std::string& method) { return method != "GET" && method != "HEAD" && method != "OPTIONS"; }

Response error_answer(const ApiError& error) {
  Response res;
  write_error(res, error);
  return res;
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
  if (settings_.jwt.enabled()) jwt_ = std::make_unique<const JwtVerifier>(settings_.jwt, what_);
  if (!auth_enabled() && !is_loopback(host_))
    throw ConfigurationError("server.api_keys", what_,
                             fmt::format("listening on {} (not a loopback address) needs API keys or JWT: configure "
                                         "server.api_keys or TASKER_API_KEYS, or server.jwt (docs/api.md, "
                                         "\"Authentication\"), or listen on 127.0.0.1",
                                         settings_.listen));
  if (settings_.tls_cert.empty() != settings_.tls_key.empty())
    throw ConfigurationError(settings_.tls_cert.empty() ? "server.tls.cert" : "server.tls.key", what_,
                             "TLS needs both a certificate and a key");
  listener_ = std::make_unique<Listener>(settings_, static_cast<Dispatcher&>(*this), what_);
}

HttpCore::~HttpCore() { stop(); }

void HttpCore::route(const std::string& method, const std::string& pattern, std::string permission, Handler handler,
                     Runs runs) {
  // Metrics label routes as written in docs/api.md: `/v1/tasks/{}` rather than the regex.
  std::string label = pattern;
  for (std::size_t at; (at = label.find("([^/]+)")) != std::string::npos;) label.replace(at, 7, "{}");
  routes_.push_back({method, std::regex(pattern), std::move(label), std::move(permission), std::move(handler), runs});
}

Admission HttpCore::admit(Request& head) {
  head.request_id = new_uuid();
  try {
    if (head.target.size() > kMaxTarget)
      throw ApiError(414, "URI_TOO_LONG", fmt::format("the request target is longer than {} bytes", kMaxTarget));
    auto target = parse_target(head.target);
    if (!target)
      throw ApiError(400, "BAD_REQUEST",
                     fmt::format("the request target `{}` is not a path (/path?query) with valid %-escapes and no "
                                 "control characters",
                                 clipped(head.target, 100)));
    head.path = std::move(target->path);
    head.params = std::move(target->params);
    // `..` or `.` as a path segment (also percent-encoded) is refused whether or not a route would match.
    for (std::size_t start = 0; start <= head.path.size();) {
      auto stop = head.path.find('/', start);
      if (stop == std::string::npos) stop = head.path.size();
      const std::string_view segment(head.path.data() + start, stop - start);
      if (segment == ".." || segment == ".")
        throw ApiError(400, "BAD_REQUEST", "`.` and `..` are not allowed as path segments");
      start = stop + 1;
    }
    if (!auth_enabled()) check_keyless(head);
    const Route* found = nullptr;
    bool path_known = false;
    std::smatch match;
    for (const auto& r : routes_) {
      if (!std::regex_match(head.path, match, r.pattern)) continue;
      path_known = true;
      if (r.method == head.method) {
        found = &r;
        break;
      }
    }
    if (!found && path_known)
      throw ApiError(405, "METHOD_NOT_ALLOWED",
                     fmt::format("{} is not allowed on {}", clipped(head.method, 20), clipped(head.path, 200)));
    if (!found)
      throw ApiError(404, "NOT_FOUND",
                     fmt::format("no route for {} {}; see /api-docs/openapi.json", clipped(head.method, 20),
                                 clipped(head.path, 200)));
    for (const auto& m : match) head.matches.push_back(m.str());
    if (!found->permission.empty()) {
      try {
        head.principal = authorize(head, found->permission);
      } catch (const Refusal& refusal) {
        auth_failure(head, refusal);
        Response answer = error_answer(refusal);
        // RFC 6750: a token that was presented and refused is `invalid_token`.
        if (refusal.status() == 401 && std::string_view(refusal.reason()) != "missing")
          answer.set_header("WWW-Authenticate", R"(Bearer error="invalid_token")");
        answer.set_header("x-request-id", head.request_id);
        return Admission{std::move(answer), false, nullptr};
      }
    }
    return Admission{std::nullopt, found->runs == Runs::on_io_thread, found};
  } catch (const ApiError& e) {
    Response refusal = error_answer(e);
    refusal.set_header("x-request-id", head.request_id);
    return Admission{std::move(refusal), false, nullptr};
  }
}

Response HttpCore::handle(Request& request, const Admission& admission) {
  const Route& route = *static_cast<const Route*>(admission.route);
  Response res;
  try {
    route.handler(request, res);
    if (res.body.size() > static_cast<std::size_t>(settings_.max_response_bytes)) {
      detail::log().error("{} {} (request {}): an answer of {} bytes refused (server.max_response_bytes {})",
                          request.method, clipped(request.path), request.request_id, res.body.size(),
                          settings_.max_response_bytes);
      throw ApiError(500, "RESPONSE_TOO_LARGE",
                     fmt::format("the answer would be {} bytes, more than {} (server.max_response_bytes); ask for "
                                 "less (a smaller per_page, one step rather than the whole task) (request {})",
                                 res.body.size(), settings_.max_response_bytes, request.request_id));
    }
  } catch (...) {
    res = error_answer(to_api_error(std::current_exception(), request));
  }
  compress_if_accepted(request, res);
  res.set_header("x-request-id", request.request_id);
  if (observer_) observer_(route.label, route.method, res.status);
  return res;
}

Response HttpCore::error(const Request& head, int status, const std::string& code, const std::string& message) {
  Response res = error_answer(ApiError(status, code, message));
  if (!head.request_id.empty()) res.set_header("x-request-id", head.request_id);
  return res;
}

void HttpCore::connection_refused(const char* reason) {
  if (connection_refused_) connection_refused_(reason);
}

void HttpCore::check_keyless(const Request& head) const {
  const std::string host = head.get_header_value("Host");
  const auto name = host_name(host);
  if (!name || !host_allowed(*name, host_, settings_.allowed_hosts))
    throw ApiError(403, "FORBIDDEN",
                   fmt::format("Host `{}` is not this server: without API keys, tasker answers only to loopback "
                               "names, its listen address and server.allowed_hosts (so that a web page cannot reach "
                               "it through DNS rebinding)",
                               clipped(host, 100)));
  if (!changes_state(head.method)) return;
  if (auto problem = cross_site_problem(head))
    throw ApiError(403, "FORBIDDEN",
                   fmt::format("{}: without API keys, tasker takes changes only from its own pages and from "
                               "programs that send JSON (configure server.api_keys to accept others)",
                               *problem));
}

std::string HttpCore::authorize(const Request& req, const std::string& permission) const {
  if (!auth_enabled() || permission.empty()) return {};
  const std::string header = req.get_header_value("Authorization");
  if (header.empty())
    throw Refusal(401,
                  jwt_ ? "this route needs an API key or a JWT: send `Authorization: Bearer TOKEN`"
                       : "this route needs an API key: send `Authorization: Bearer TOKEN`",
                  "missing");
  const auto token = bearer_token(header);
  if (!token) throw Refusal(401, "malformed Authorization header: expected `Bearer TOKEN`", "malformed");
  const Digest presented = sha256(*token);
  // Every configured key is compared, in constant time, whichever matches.
  const ApiKey* match = nullptr;
  for (const auto& key : settings_.api_keys) {
    const Digest expected = from_hex(key.sha256);
    if (CRYPTO_memcmp(presented.data(), expected.data(), expected.size()) == 0) match = &key;
  }
  if (match) {
    if (!grants(match->permissions, permission))
      throw Refusal(403, fmt::format("API key `{}` lacks the permission `{}`", match->name, permission), "forbidden");
    return "key:" + match->name;
  }
  if (!jwt_) throw Refusal(401, "the API key is not valid", "invalid");
  JwtIdentity identity;
  try {
    identity = jwt_->verify(*token);
  } catch (const JwtRefused& e) {
    throw Refusal(401, e.what(), e.malformed() ? "malformed" : "invalid");
  }
  if (!grants(identity.permissions, permission))
    throw Refusal(403,
                  fmt::format("the token{} lacks the permission `{}` (its claim `{}`)",
                              identity.subject.empty() ? "" : fmt::format(" of `{}`", clipped(identity.subject, 100)),
                              permission, settings_.jwt.permissions_claim),
                  "forbidden");
  return "jwt:" + clipped(identity.subject, 100);
}

void HttpCore::auth_failure(const Request& req, const Refusal& refusal) const {
  if (auth_failed_) auth_failed_(refusal.reason());
  std::lock_guard lock(auth_log_mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (now - auth_logged_at_ < kAuthLogEvery) {
    ++auth_unlogged_;
    return;
  }
  detail::log().warn("{}: authentication failed ({}: {}) for {} {} from {}{}", what_, refusal.reason(), refusal.what(),
                     clipped(req.method, 20), clipped(req.path, 200), req.remote_address,
                     auth_unlogged_ ? fmt::format(" ({} more since the last such line)", auth_unlogged_) : "");
  auth_logged_at_ = now;
  auth_unlogged_ = 0;
}

void HttpCore::start() {
  if (port_ > 0) return;
  port_ = listener_->start(host_, requested_port_);
}

void HttpCore::stop() {
  if (listener_) listener_->stop();
}

std::string HttpCore::url() const {
  const bool v6 = host_.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}", settings_.tls_cert.empty() ? "http" : "https", v6 ? "[" : "", host_,
                     v6 ? "]" : "", port_);
}

long long query_number(const Request& req, const std::string& name, long long fallback, long long min, long long max) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  long long v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < min || v > max)
    throw ApiError(
        400, "BAD_REQUEST",
        fmt::format("query parameter `{}` must be a whole number in {}..{}, not `{}`", name, min, max, text));
  return v;
}

std::optional<std::string> query_text(const Request& req, const std::string& name) {
  if (!req.has_param(name)) return std::nullopt;
  return req.get_param_value(name);
}

std::string uuid_param(const Request& req, std::size_t index, std::string_view what) {
  const std::string& text = req.matches[index];
  if (!is_uuid(text))
    throw ApiError(
        400, "INVALID_UUID",
        fmt::format("`{}` is not a {} uuid (36 characters like 3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b)", text, what));
  return text;
}

void check_body_keys(const json& body, const std::set<std::string>& known, std::string_view what) {
  if (!body.is_object()) throw ApiError(400, "BAD_REQUEST", "the body must be a JSON object");
  for (const auto& [key, value] : body.items())
    if (!known.count(key)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw ApiError(400, "BAD_REQUEST", fmt::format("unknown field `{}`; {} has {}", key, what, list),
                     {{"field", key}});
    }
}

}  // namespace tasker::server
