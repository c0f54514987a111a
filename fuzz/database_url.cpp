// The database URL parsers (SQLite and PostgreSQL) on arbitrary text: a URL
// is parsed or refused with a ConfigurationError, never anything else, and
// what they keep for messages never shows a password given in the URL.
#include <cstddef>
#include <cstdint>
#include <string>

#include "check.hpp"
#include "storage/postgres/url.hpp"
#include "storage/sqlite/url.hpp"
#include "tasker/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string url(reinterpret_cast<const char*>(data), size);
  try {
    if (auto target = tasker::detail::sqlite::parse_url(url)) {
      FUZZ_CHECK(!target->path.empty());
      const std::string synchronous = tasker::detail::sqlite::synchronous_of(*target);
      FUZZ_CHECK(synchronous == "FULL" || synchronous == "NORMAL");
    }
  } catch (const tasker::ConfigurationError&) {
  }
  // A password this URL certainly carries (user:PASSWORD@, no '@', '/' or '?' in it).
  std::string password;
  for (const char* scheme : {"postgresql://", "postgres://"}) {
    if (url.rfind(scheme, 0) != 0) continue;
    const std::string rest = url.substr(std::string(scheme).size());
    const auto colon = rest.find(':'), at = rest.find('@');
    if (colon != std::string::npos && at != std::string::npos && colon < at && rest.find_first_of("/?#[", 0) > at &&
        rest.find('@', at + 1) == std::string::npos)
      password = rest.substr(colon + 1, at - colon - 1);
  }
  const bool distinctive = password.size() >= 4;  // a short one may occur elsewhere in the URL by chance
  try {
    const tasker::detail::postgres::Target t = tasker::detail::postgres::parse_url(url);
    if (distinctive) FUZZ_CHECK(t.masked.find(":" + password + "@") == std::string::npos);
  } catch (const tasker::ConfigurationError& e) {
    // The hint shows the form of a URL (user:password@host): that is not the password.
    std::string message = e.what();
    const std::string hint = tasker::detail::postgres::kUrlHint;
    for (auto at = message.find(hint); at != std::string::npos; at = message.find(hint)) message.erase(at, hint.size());
    if (distinctive) FUZZ_CHECK(message.find(":" + password + "@") == std::string::npos);
  }
  return 0;
}
