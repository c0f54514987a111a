#include "storage/postgres/url.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

#include "tasker/errors.hpp"

namespace tasker::detail::postgres {

namespace {

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

/// Percent-decode; nullopt when a `%` is not followed by two hex digits.
std::optional<std::string> percent_decode(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return std::nullopt;
    out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return out;
}

}  // namespace

Target parse_url(const std::string& url) {
  std::string scheme;
  for (const char* s : {"postgresql://", "postgres://"})
    if (url.rfind(s, 0) == 0) scheme = s;
  auto bad = [&](const std::string& masked, const std::string& problem) {
    return ConfigurationError("database_url", masked, fmt::format("{}; {}", problem, kUrlHint));
  };
  // Until the password is located, messages show only the scheme.
  if (scheme.empty()) throw bad("(a database URL)", "a PostgreSQL URL must start with postgresql:// or postgres://");
  std::string rest = url.substr(scheme.size());
  if (rest.find('#') != std::string::npos) throw bad(scheme + "...", "the PostgreSQL URL has a `#` fragment");
  std::string query;
  if (auto q = rest.find('?'); q != std::string::npos) query = rest.substr(q + 1), rest.resize(q);
  std::string authority = rest;
  std::string path;
  bool has_path = false;
  if (auto slash = rest.find('/'); slash != std::string::npos)
    authority = rest.substr(0, slash), path = rest.substr(slash + 1), has_path = true;
  std::string userinfo;
  std::string hosts = authority;
  bool has_userinfo = false;
  if (auto at = authority.rfind('@'); at != std::string::npos)
    userinfo = authority.substr(0, at), hosts = authority.substr(at + 1), has_userinfo = true;
  std::string user = userinfo;
  bool has_password = false;
  if (auto colon = userinfo.find(':'); colon != std::string::npos)
    user = userinfo.substr(0, colon), has_password = true;

  // The masked form: everything but the password (and a `password=` option).
  std::vector<std::string> options;
  std::string masked_query;
  Target t;
  for (std::size_t start = 0; !query.empty() && start <= query.size();) {
    auto amp = query.find('&', start);
    std::string item = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    options.push_back(item);
    start = amp == std::string::npos ? query.size() + 1 : amp + 1;
  }
  for (const auto& item : options) {
    auto eq = item.find('=');
    std::string key = item.substr(0, eq);
    masked_query += (masked_query.empty() ? "?" : "&") + (key == "password" ? key + "=***" : item);
  }
  t.masked = scheme + (has_userinfo ? user + (has_password ? ":***" : "") + "@" : "") + hosts +
             (has_path ? "/" + path : "") + masked_query;

  if (!percent_decode(userinfo)) throw bad(t.masked, "the user or password has a `%` not followed by two hex digits");
  auto database = percent_decode(path);
  if (!database || database->find('/') != std::string::npos)
    throw bad(t.masked, fmt::format("`{}` is not a database name", path));

  // Hosts: host[:port][,host[:port]...], a host may be [ipv6].
  std::string where_hosts;
  std::size_t start = 0;
  while (!hosts.empty() && start <= hosts.size()) {
    auto comma = hosts.find(',', start);
    std::string hp = hosts.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? hosts.size() + 1 : comma + 1;
    std::string host = hp;
    std::string port;
    if (!hp.empty() && hp.front() == '[') {
      auto close = hp.find(']');
      if (close == std::string::npos) throw bad(t.masked, fmt::format("`{}` has no closing `]`", hp));
      host = hp.substr(0, close + 1);
      if (close + 1 < hp.size()) {
        if (hp[close + 1] != ':') throw bad(t.masked, fmt::format("unexpected text after `{}`", host));
        port = hp.substr(close + 2);
      }
    } else if (auto colon = hp.rfind(':'); colon != std::string::npos) {
      host = hp.substr(0, colon);
      port = hp.substr(colon + 1);
      if (port.empty()) throw bad(t.masked, fmt::format("`{}` has an empty port", hp));
    }
    if (!port.empty()) {
      bool digits =
          port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!digits || std::stol(port) < 1 || std::stol(port) > 65535)
        throw bad(t.masked, fmt::format("the port `{}` is not a number in 1..65535", port));
    }
    if (!where_hosts.empty()) where_hosts += ",";
    where_hosts += (host.empty() ? "localhost" : host) + ":" + (port.empty() ? "5432" : port);
  }

  // Options: tasker's `schema` and `server_functions` are kept, the others go to libpq unchanged.
  std::string libpq_query;
  std::string socket_host;
  for (const auto& item : options) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw bad(t.masked, fmt::format("the URL option `{}` is not of the form key=value", item));
    std::string key = item.substr(0, eq);
    auto value = percent_decode(item.substr(eq + 1));
    if (!value) throw bad(t.masked, fmt::format("the URL option `{}` has a `%` not followed by two hex digits", key));
    if (key == "schema") {
      if (value->empty() || value->size() > 63)
        throw bad(t.masked, fmt::format("the schema name `{}` must be 1 to 63 bytes long", *value));
      t.schema = *value;
      continue;
    }
    if (key == "server_functions") {
      if (*value != "on" && *value != "off")
        throw bad(t.masked, fmt::format("server_functions must be `on` or `off`, not `{}`", *value));
      t.server_functions = *value == "on";
      continue;
    }
    if (key == "host") socket_host = *value;
    libpq_query += (libpq_query.empty() ? "?" : "&") + item;
  }
  // Name the sessions in pg_stat_activity unless the URL does.
  if (libpq_query.find("application_name=") == std::string::npos)
    libpq_query += std::string(libpq_query.empty() ? "?" : "&") + "fallback_application_name=tasker";
  if (where_hosts.empty()) where_hosts = socket_host.empty() ? "localhost:5432 (the default socket)" : socket_host;
  t.where = where_hosts + "/" + (database->empty() ? "(the user's database)" : *database);
  t.libpq_uri = scheme + authority + (has_path ? "/" + path : "") + libpq_query;
  return t;
}

}  // namespace tasker::detail::postgres
