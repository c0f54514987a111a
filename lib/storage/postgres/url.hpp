#pragma once
// `postgresql://` URLs: what libpq gets, tasker's own options, and the forms
// shown in messages (the password masked). Apart from the backend so that
// every URL can be tested (and fuzzed) without a server.
#include <string>

namespace tasker::detail::postgres {

/// A parsed `postgresql://` URL: what libpq gets, what tasker keeps for itself,
/// and what messages show.
struct Target {
  std::string libpq_uri;  ///< the URL without tasker's own options (schema, server_functions)
  std::string schema;     ///< empty: the server's default search_path
  /// `server_functions=off`: worker transactions and submits as several
  /// statements each, not one call of the migrations' functions.
  bool server_functions{true};
  std::string where;   ///< host:port/db, for messages
  std::string masked;  ///< the URL with the password masked
};

inline constexpr const char* kUrlHint = "use postgresql://user:password@host:port/database[?schema=name]";

/// Throws ConfigurationError naming what is wrong, with the password masked.
[[nodiscard]] Target parse_url(const std::string& url);

}  // namespace tasker::detail::postgres
