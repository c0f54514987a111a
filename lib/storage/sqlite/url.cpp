#include "storage/sqlite/url.hpp"

#include "tasker/errors.hpp"

namespace tasker::detail::sqlite {

namespace {

/// A plain file path (no URL scheme) names a SQLite database too: `tasker.db`,
/// `/var/lib/app/tasker.db`, `./data/x.db`.
bool is_plain_path(const std::string& url) {
  return !url.empty() && (url.find(':') == std::string::npos || url[0] == '/' || url[0] == '.');
}

}  // namespace

std::optional<Target> parse_url(const std::string& url) {
  if (url == "sqlite::memory:" || url == "sqlite://:memory:") return Target{":memory:", ""};
  const bool scheme = url.rfind("sqlite://", 0) == 0;
  if (!scheme && !is_plain_path(url)) return std::nullopt;
  // sqlite:///abs -> "/abs", sqlite://rel -> "rel", a plain path as it is
  std::string rest = scheme ? url.substr(9) : url;
  std::string query;
  if (auto q = rest.find('?'); q != std::string::npos) query = rest.substr(q + 1), rest.resize(q);
  if (rest.empty())
    throw ConfigurationError("database_url", url, "the sqlite URL names no file; use sqlite://tasker.db");
  return Target{rest, query};
}

std::string synchronous_of(const Target& target) {
  const std::string& query = target.query;
  std::string synchronous = "FULL";
  if (!query.empty()) {
    if (query == "synchronous=normal" || query == "synchronous=NORMAL")
      synchronous = "NORMAL";
    else if (query != "synchronous=full" && query != "synchronous=FULL")
      throw ConfigurationError("database_url", "sqlite://" + target.path + "?" + query,
                               "unknown SQLite URL option; the only option is synchronous=full|normal");
  }
  return synchronous;
}

}  // namespace tasker::detail::sqlite
