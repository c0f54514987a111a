#pragma once
// `sqlite://` URLs: which file (or memory) and which options. Apart from the
// backend so that every URL form can be tested (and fuzzed) without opening one.
#include <optional>
#include <string>

namespace tasker::detail::sqlite {

struct Target {
  std::string path;   ///< a file path, or ":memory:"
  std::string query;  ///< the URL's options, after `?`
};

/// `sqlite::memory:`, `sqlite://:memory:`, `sqlite://relative.db`, `sqlite:///absolute.db`, or a
/// plain file path (`tasker.db`, `./data/x.db`, `/var/lib/app/tasker.db`); nullopt when `url` is
/// not one of these. Throws ConfigurationError when it names no file.
[[nodiscard]] std::optional<Target> parse_url(const std::string& url);

/// The `synchronous` pragma the options ask for (FULL by default). Throws
/// ConfigurationError for an unknown option.
[[nodiscard]] std::string synchronous_of(const Target& target);

}  // namespace tasker::detail::sqlite
