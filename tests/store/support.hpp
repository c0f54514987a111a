#pragma once
// What the PostgreSQL-only store tests share: the throwaway server's URL.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "tasker/json.hpp"

namespace tasker::test {

/// The test server's URL: TASKER_TEST_DATABASE_URL, or the file the
/// `postgres_server` fixture writes (TASKER_TEST_DATABASE_URL_FILE).
inline std::string server_url() {
  if (const char* url = std::getenv("TASKER_TEST_DATABASE_URL"); url && *url) return url;
  const char* file = std::getenv("TASKER_TEST_DATABASE_URL_FILE");
  REQUIRE_MESSAGE(file, "set TASKER_TEST_DATABASE_URL_FILE (the ctest fixture postgres_server does)");
  std::ifstream in(file);
  std::string url;
  std::getline(in, url);
  REQUIRE_MESSAGE(!url.empty(), "cannot read the server's URL from ", file);
  return url;
}

/// `url` with one more query option.
inline std::string with_option(const std::string& url, const std::string& option) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + option;
}

/// A JSON id as PostgreSQL's jsonb gives it (a number) or as text.
inline long long id_of(const json& v) { return v.is_string() ? std::stoll(v.get<std::string>()) : v.get<long long>(); }

}  // namespace tasker::test
