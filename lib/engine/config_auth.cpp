#include "config_auth.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <sstream>

#include "tasker/errors.hpp"

namespace tasker::detail {

namespace {

/// The API's permissions (tasker-core's resource:action names; docs/api.md).
constexpr const char* kPermissions[] = {
    "tasks:create",     "tasks:read",       "tasks:list",       "tasks:cancel",          "tasks:signal",
    "steps:read",       "steps:resolve",    "templates:read",   "worker:templates_read", "schedules:read",
    "schedules:create", "schedules:update", "schedules:delete", "schedules:trigger",     "dlq:read",
    "dlq:update",       "dlq:stats"};

void check_permission(const std::string& key, const std::string& source, const std::string& permission) {
  if (permission == "*") return;
  std::string known;
  for (const char* p : kPermissions) {
    if (permission == p) return;
    std::string_view name(p);
    std::string resource(name.substr(0, name.find(':')));
    if (permission == resource + ":*") return;
    known += known.empty() ? p : fmt::format(", {}", p);
  }
  throw ConfigurationError(key, source,
                           fmt::format("unknown permission `{}`; use one of {}, RESOURCE:* or *", permission, known));
}

/// Each server.jwt setting and where it goes; leeway_seconds is the one number.
struct JwtText {
  const char* key;
  const char* environment;  ///< nullptr: only in a file
  std::string JwtSettings::*field;
};
const JwtText kJwtTexts[] = {
    {"server.jwt.public_key", "TASKER_JWT_PUBLIC_KEY", &JwtSettings::public_key},
    {"server.jwt.public_key_path", "TASKER_JWT_PUBLIC_KEY_PATH", &JwtSettings::public_key_path},
    {"server.jwt.jwks_path", "TASKER_JWT_JWKS_PATH", &JwtSettings::jwks_path},
    {"server.jwt.issuer", "TASKER_JWT_ISSUER", &JwtSettings::issuer},
    {"server.jwt.audience", "TASKER_JWT_AUDIENCE", &JwtSettings::audience},
    {"server.jwt.permissions_claim", nullptr, &JwtSettings::permissions_claim},
};
constexpr const char* kLeewayKey = "server.jwt.leeway_seconds";

}  // namespace

long long parse_config_number(const std::string& key, const std::string& source, const std::string& text, long long min,
                              long long max) {
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size())
    throw ConfigurationError(key, source, fmt::format("`{}` is not a whole number", text));
  if (value < min || value > max)
    throw ConfigurationError(key, source, fmt::format("{} is outside {}..{}", value, min, max));
  return value;
}

ApiKey make_api_key(const std::string& key, const std::string& source, std::string name, std::string sha256,
                    std::vector<std::string> permissions) {
  if (name.empty()) throw ConfigurationError(key, source, "an API key needs a `name` (it names the key in logs)");
  bool hex = sha256.size() == 64;
  for (char& c : sha256) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    hex = hex && std::isxdigit(static_cast<unsigned char>(c));
  }
  if (!hex)
    throw ConfigurationError(key, source,
                             fmt::format("key `{}`: `sha256` must be the 64 hex digits of the token's SHA-256 "
                                         "(printf %s TOKEN | sha256sum), never the token itself",
                                         name));
  if (permissions.empty())
    throw ConfigurationError(key, source, fmt::format("key `{}` has no permissions (e.g. [tasks:read])", name));
  for (const auto& p : permissions) check_permission(key, source, p);
  return {std::move(name), std::move(sha256), std::move(permissions)};
}

std::vector<ApiKey> parse_api_keys(const std::string& key, const std::string& text) {
  std::vector<ApiKey> keys;
  std::stringstream in(text);
  for (std::string entry; std::getline(in, entry, ';');) {
    if (entry.empty()) continue;
    auto first = entry.find(':');
    auto second = first == std::string::npos ? first : entry.find(':', first + 1);
    if (second == std::string::npos)
      throw ConfigurationError(key, "the environment",
                               "each entry must be NAME:SHA256:PERMISSION,PERMISSION (entries separated by `;`)");
    std::vector<std::string> permissions;
    std::stringstream perms(entry.substr(second + 1));
    for (std::string p; std::getline(perms, p, ',');)
      if (!p.empty()) permissions.push_back(p);
    keys.push_back(make_api_key(key, "the environment", entry.substr(0, first),
                                entry.substr(first + 1, second - first - 1), std::move(permissions)));
  }
  return keys;
}

const std::vector<std::string>& jwt_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> out;
    for (const auto& t : kJwtTexts) out.emplace_back(t.key);
    out.emplace_back(kLeewayKey);
    return out;
  }();
  return keys;
}

void set_jwt_setting(JwtSettings& jwt, const std::string& key, const std::string& source, const std::string& text) {
  if (key == kLeewayKey) {
    jwt.leeway_seconds = static_cast<int>(parse_config_number(key, source, text, 0, 3600));
    return;
  }
  for (const auto& t : kJwtTexts)
    if (key == t.key) {
      if (key == "server.jwt.permissions_claim" && text.empty())
        throw ConfigurationError(key, source, "must name a claim (tasker-core's default is `permissions`)");
      jwt.*(t.field) = text;
    }
}

void apply_jwt_environment(JwtSettings& jwt) {
  for (const auto& t : kJwtTexts)
    if (t.environment)
      if (const char* value = std::getenv(t.environment); value && *value) jwt.*(t.field) = value;
}

}  // namespace tasker::detail
