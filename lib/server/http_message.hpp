#pragma once
// tasker's own HTTP request and answer (internal), so the routes depend on no
// HTTP library, and the checks of a request's header that are tasker's rules
// rather than HTTP's (framing, the request target, Host and Origin, the bearer
// token). Everything here is plain text in, values out: the transport
// (http_listener.cpp) fills a Request from Boost.Beast's parser, and
// fuzz/http_request.cpp drives these functions on arbitrary bytes.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tasker::server {

/// Case-insensitive ASCII comparison (header names, schemes, tokens).
[[nodiscard]] bool iequals(std::string_view a, std::string_view b);

/// `text` cut to at most `limit` bytes (at a UTF-8 boundary) with `…` appended
/// when cut: what log lines and error messages quote of untrusted input.
[[nodiscard]] std::string clipped(std::string_view text, std::size_t limit = 200);

/// A request as the routes see it: the body whole (within server.max_body_bytes),
/// the path percent-decoded, the query split into parameters.
struct Request {
  std::string method;                              ///< "GET", "POST", ... as sent (HTTP methods are case-sensitive)
  std::string target;                              ///< as sent: path and query, undecoded
  std::string path;                                ///< decoded
  std::multimap<std::string, std::string> params;  ///< decoded query parameters
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<std::string> matches;  ///< the route pattern's capture groups; [0] is the whole path
  std::string remote_address;        ///< the peer's IP address
  std::string request_id;            ///< sent back as x-request-id
  /// Who the request authenticated as: `key:NAME` (an API key), `jwt:SUBJECT`, or empty (no authentication).
  std::string principal;

  [[nodiscard]] bool has_header(std::string_view name) const;
  /// The first value of header `name` (any case), or "".
  [[nodiscard]] std::string get_header_value(std::string_view name) const;
  [[nodiscard]] std::size_t header_count(std::string_view name) const;
  [[nodiscard]] bool has_param(const std::string& name) const { return params.count(name) > 0; }
  /// The first value of query parameter `name`, or "".
  [[nodiscard]] std::string get_param_value(const std::string& name) const;
};

/// An answer. The transport adds Content-Length, Date, the connection
/// headers, x-request-id and X-Content-Type-Options.
struct Response {
  int status{200};
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  /// Replaces any earlier value of `name`.
  void set_header(std::string_view name, std::string value);
  [[nodiscard]] std::string get_header_value(std::string_view name) const;
  void set_content(std::string content, std::string content_type);
};

/// A request target split and decoded: the origin form `/path?query` only.
struct Target {
  std::string path;
  std::multimap<std::string, std::string> params;
};

/// Splits and percent-decodes an origin-form target; nullopt for anything else
/// (no leading `/`, a bad `%` escape, a NUL or control byte once decoded).
[[nodiscard]] std::optional<Target> parse_target(std::string_view target);

/// Why a request's framing is refused, or nullopt when it is sound: more than
/// one Content-Length (even equal ones), a list or anything but digits in one,
/// a Transfer-Encoding other than `chunked`, or both. (HTTP allows some of
/// these; a proxy in front may read them another way, so tasker takes none.)
[[nodiscard]] std::optional<std::string> framing_problem(const Request& head);

/// The token of an `Authorization: Bearer TOKEN` header (the scheme in any
/// case); nullopt when the header is not of that form.
[[nodiscard]] std::optional<std::string_view> bearer_token(std::string_view header);

/// The host of a Host header (`name`, `name:port`, `[v6]:port`), lower-cased;
/// nullopt when malformed.
[[nodiscard]] std::optional<std::string> host_name(std::string_view host_header);

/// Whether `host` (as host_name gives it) may address this server in keyless
/// mode: a loopback name or address, the listen host, or one of `allowed`.
[[nodiscard]] bool host_allowed(const std::string& host, const std::string& listen_host,
                                const std::vector<std::string>& allowed);

/// Why a state-changing request from a browser on another site is refused in
/// keyless mode, or nullopt: a `Sec-Fetch-Site` other than same-origin or none,
/// an `Origin` whose host and port are not the request's Host, or a body that
/// is not `application/json` (what a cross-site form or fetch can send without
/// asking first).
[[nodiscard]] std::optional<std::string> cross_site_problem(const Request& head);

}  // namespace tasker::server
