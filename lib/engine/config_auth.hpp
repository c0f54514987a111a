#pragma once
// The authentication settings of the configuration (internal to config.cpp):
// API keys and their permissions, and the server.jwt section.
#include <string>
#include <vector>

#include "tasker/config.hpp"

namespace tasker::detail {

/// `text` as a whole number in min..max. Throws ConfigurationError naming `key` and `source`.
long long parse_config_number(const std::string& key, const std::string& source, const std::string& text, long long min,
                              long long max);

/// An API key from its parts. Throws ConfigurationError for a missing name, a
/// value that is not a SHA-256 in hex, no or unknown permissions.
ApiKey make_api_key(const std::string& key, const std::string& source, std::string name, std::string sha256,
                    std::vector<std::string> permissions);

/// TASKER_API_KEYS: `name:sha256:perm,perm;name:sha256:perm`.
std::vector<ApiKey> parse_api_keys(const std::string& key, const std::string& text);

/// The settings of the server.jwt section, as a file names them.
const std::vector<std::string>& jwt_keys();

/// Sets the server.jwt setting `key` (one of jwt_keys()) from `text`.
void set_jwt_setting(JwtSettings& jwt, const std::string& key, const std::string& source, const std::string& text);

/// Applies TASKER_JWT_PUBLIC_KEY, TASKER_JWT_PUBLIC_KEY_PATH, TASKER_JWT_JWKS_PATH,
/// TASKER_JWT_ISSUER and TASKER_JWT_AUDIENCE when set.
void apply_jwt_environment(JwtSettings& jwt);

}  // namespace tasker::detail
