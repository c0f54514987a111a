#include "http_message.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace tasker::server {

namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Percent-decodes `text` (`+` as a space too in a query); nullopt for a bad
/// escape or a control byte, which no path or parameter of this API holds.
std::optional<std::string> decoded(std::string_view text, bool query) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (query && c == '+') {
      c = ' ';
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
    out += c;
  }
  return out;
}

std::string value_of(const std::vector<std::pair<std::string, std::string>>& headers, std::string_view name) {
  for (const auto& [key, value] : headers)
    if (iequals(key, name)) return value;
  return {};
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string clipped(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return std::string(text);
  std::size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
  return fmt::format("{}… ({} bytes)", text.substr(0, cut), text.size());
}

bool Request::has_header(std::string_view name) const { return header_count(name) > 0; }

std::string Request::get_header_value(std::string_view name) const { return value_of(headers, name); }

std::size_t Request::header_count(std::string_view name) const {
  return static_cast<std::size_t>(
      std::count_if(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); }));
}

std::string Request::get_param_value(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

void Response::set_header(std::string_view name, std::string value) {
  headers.erase(std::remove_if(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); }),
                headers.end());
  headers.emplace_back(std::string(name), std::move(value));
}

std::string Response::get_header_value(std::string_view name) const { return value_of(headers, name); }

void Response::set_content(std::string content, std::string content_type) {
  body = std::move(content);
  set_header("Content-Type", std::move(content_type));
}

std::optional<Target> parse_target(std::string_view target) {
  if (target.empty() || target.front() != '/') return std::nullopt;
  const auto question = target.find('?');
  auto path = decoded(target.substr(0, question), false);
  if (!path) return std::nullopt;
  Target out{std::move(*path), {}};
  if (question == std::string_view::npos) return out;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto key = decoded(pair.substr(0, eq), true);
    auto value = decoded(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    out.params.emplace(std::move(*key), std::move(*value));
  }
  return out;
}

std::optional<std::string> framing_problem(const Request& head) {
  const std::size_t lengths = head.header_count("Content-Length");
  const std::size_t encodings = head.header_count("Transfer-Encoding");
  if (lengths > 1) return "more than one Content-Length header";
  if (encodings > 1) return "more than one Transfer-Encoding header";
  if (lengths == 1 && encodings == 1) return "both Content-Length and Transfer-Encoding";
  if (lengths == 1) {
    const std::string value = head.get_header_value("Content-Length");
    if (value.empty() || value.size() > 18 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return fmt::format("Content-Length `{}` is not a whole number of bytes", clipped(value, 40));
  }
  if (encodings == 1 && !iequals(trimmed(head.get_header_value("Transfer-Encoding")), "chunked"))
    return "the only Transfer-Encoding taken is `chunked`";
  return std::nullopt;
}

std::optional<std::string_view> bearer_token(std::string_view header) {
  header = trimmed(header);
  const auto space = header.find(' ');
  if (space == std::string_view::npos || !iequals(header.substr(0, space), "bearer")) return std::nullopt;
  std::string_view token = trimmed(header.substr(space + 1));
  if (token.empty() || token.find_first_of(" \t") != std::string_view::npos) return std::nullopt;
  return token;
}

std::optional<std::string> host_name(std::string_view host_header) {
  std::string_view h = trimmed(host_header);
  std::string_view name;
  std::string_view port;
  if (!h.empty() && h.front() == '[') {
    const auto close = h.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    name = h.substr(1, close - 1);
    if (close + 1 < h.size()) {
      if (h[close + 1] != ':') return std::nullopt;
      port = h.substr(close + 2);
    }
  } else {
    const auto colon = h.find(':');
    name = h.substr(0, colon);
    if (colon != std::string_view::npos) port = h.substr(colon + 1);
  }
  if (name.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::string out;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_'))
      return std::nullopt;
    out += lower(c);
  }
  return out;
}

bool host_allowed(const std::string& host, const std::string& listen_host, const std::vector<std::string>& allowed) {
  if (host == "localhost" || host == "::1" || iequals(host, listen_host)) return true;
  // 127.0.0.0/8 written as four decimal numbers: the only spelling of a loopback address a browser sends.
  if (host.rfind("127.", 0) == 0 && std::count(host.begin(), host.end(), '.') == 3 &&
      host.find_first_not_of("0123456789.") == std::string::npos)
    return true;
  return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& a) { return iequals(a, host); });
}

std::optional<std::string> cross_site_problem(const Request& head) {
  const std::string site = head.get_header_value("Sec-Fetch-Site");
  if (!site.empty() && !iequals(site, "same-origin") && !iequals(site, "none"))
    return fmt::format("the browser says this request comes from another site (Sec-Fetch-Site: {})", clipped(site, 40));
  if (head.has_header("Origin")) {
    const std::string origin = head.get_header_value("Origin");
    const auto scheme_end = origin.find("://");
    const std::string authority = scheme_end == std::string::npos ? "" : origin.substr(scheme_end + 3);
    if (authority.empty() || !iequals(authority, trimmed(head.get_header_value("Host"))))
      return fmt::format("the request's Origin `{}` is not this server", clipped(origin, 80));
  }
  if (head.method == "POST" || head.method == "PATCH" || head.method == "PUT") {
    const std::string type = head.get_header_value("Content-Type");
    const std::string media(trimmed(std::string_view(type).substr(0, type.find(';'))));
    if (!iequals(media, "application/json"))
      return fmt::format("the body must be sent as Content-Type: application/json, not `{}`",
                         clipped(media.empty() ? "(none)" : media, 60));
  }
  return std::nullopt;
}

}  // namespace tasker::server
