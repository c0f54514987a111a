#pragma once
// Templates keyed by namespace/name/version, resolving the latest version.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tasker/loader.hpp"
#include "tasker/template.hpp"

namespace tasker {

/// Compare dotted versions numerically ("1.10.0" > "1.9.2"); a part that is
/// not a number compares as text. Returns <0, 0, >0.
[[nodiscard]] int compare_versions(std::string_view a, std::string_view b);

/// `namespace/name[@version]` as written on a command line.
struct TemplateRef {
  std::string namespace_name;
  std::string name;
  std::string version;  ///< empty: the latest loaded

  /// Throws InvalidRequestError with the expected form when `text` is malformed.
  static TemplateRef parse(std::string_view text);
  [[nodiscard]] std::string to_string() const;
};

/// Owns templates; not thread-safe for writes, safe for concurrent reads.
class TemplateSet {
 public:
  /// Add one template; returns a diagnostic (and keeps the first) when the
  /// same namespace/name/version is already present.
  std::optional<Diagnostic> add(TaskTemplate tmpl);

  /// Move every template of `result` in; duplicates become error diagnostics of `result`.
  void add_all(LoadResult& result);

  /// Load paths into a new set; throws TemplateError with every diagnostic on any error.
  static TemplateSet load(const std::vector<std::filesystem::path>& paths, const LoadOptions& options = {});

  /// The template, or nullptr. An empty version means the latest.
  [[nodiscard]] const TaskTemplate* find(std::string_view namespace_name, std::string_view name,
                                         std::string_view version = {}) const;
  /// Like find, but throws NotFoundError naming what is loaded.
  [[nodiscard]] const TaskTemplate& get(std::string_view namespace_name, std::string_view name,
                                        std::string_view version = {}) const;
  [[nodiscard]] const TaskTemplate& get(const TemplateRef& ref) const {
    return get(ref.namespace_name, ref.name, ref.version);
  }

  /// Every template, ordered by namespace, name, then version.
  [[nodiscard]] std::vector<const TaskTemplate*> all() const;
  [[nodiscard]] std::size_t size() const { return count_; }
  [[nodiscard]] bool empty() const { return count_ == 0; }

 private:
  struct VersionLess {
    bool operator()(const std::string& a, const std::string& b) const { return compare_versions(a, b) < 0; }
  };
  // namespace -> name -> version -> template
  std::map<std::string, std::map<std::string, std::map<std::string, TaskTemplate, VersionLess>>, std::less<>>
      templates_by_ns_;
  std::size_t count_{0};
};

}  // namespace tasker
