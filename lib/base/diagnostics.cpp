#include "tasker/diagnostics.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace tasker {

std::string Diagnostic::to_string() const {
  std::string where = location.file.empty() ? "<input>" : location.file;
  if (location.line > 0) where += fmt::format(":{}:{}", location.line, std::max(location.column, 1));
  std::string out = fmt::format("{}: {}: {}", where, severity == Severity::error ? "error" : "warning", message);
  if (!hint.empty()) out += fmt::format(" (hint: {})", hint);
  return out;
}

bool has_errors(const std::vector<Diagnostic>& diagnostics) {
  return std::any_of(diagnostics.begin(), diagnostics.end(),
                     [](const Diagnostic& d) { return d.severity == Severity::error; });
}

namespace {
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}
}  // namespace

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  // A plausible misspelling differs in at most a third of its letters (and at least one edit is allowed).
  std::size_t best = std::max<std::size_t>(1, word.size() / 3) + 1;
  std::string match;
  for (const auto& candidate : candidates) {
    if (candidate == word) continue;
    std::size_t d = edit_distance(word, candidate);
    if (d < best) {
      best = d;
      match = candidate;
    }
  }
  return match;
}

}  // namespace tasker
