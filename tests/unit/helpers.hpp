#pragma once
// Helpers shared by the unit tests (header only).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "tasker/diagnostics.hpp"
#include "tasker/loader.hpp"

namespace tasker::test {

/// The repository root (tests run from it, but the macro makes them independent of the cwd).
inline std::filesystem::path source_dir() {
#ifdef TASKER_SOURCE_DIR
  return std::filesystem::path(TASKER_SOURCE_DIR);
#else
  return std::filesystem::current_path();
#endif
}

/// Load options for an explicit environment (never TASKER_ENV, so tests do not depend on the shell).
inline LoadOptions env(std::string name = "development") {
  LoadOptions options;
  options.environment = std::move(name);
  return options;
}

/// Load YAML text as file `t.yaml` in the development environment.
inline LoadResult load(const std::string& yaml, const LoadOptions& options = env()) {
  return load_templates_from_string(yaml, "t.yaml", options);
}

inline std::vector<Diagnostic> errors_of(const LoadResult& result) {
  std::vector<Diagnostic> out;
  for (const auto& d : result.diagnostics)
    if (d.severity == Severity::error) out.push_back(d);
  return out;
}

inline std::vector<Diagnostic> warnings_of(const LoadResult& result) {
  std::vector<Diagnostic> out;
  for (const auto& d : result.diagnostics)
    if (d.severity == Severity::warning) out.push_back(d);
  return out;
}

/// Every diagnostic, one per line: printed by INFO so a failing check shows what the loader said.
inline std::string dump(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += d.to_string() + " [key: " + d.key + "]\n";
  return out.empty() ? "(no diagnostics)" : out;
}
inline std::string dump(const LoadResult& result) { return dump(result.diagnostics); }

inline bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

/// The result's only error; fails the test (and returns an empty diagnostic) when there is not exactly one.
inline Diagnostic single_error(const LoadResult& result) {
  auto errors = errors_of(result);
  INFO(dump(result));
  REQUIRE(errors.size() == 1u);
  return errors.front();
}

/// Checks the position of a diagnostic: file, line and column.
inline void check_at(const Diagnostic& d, int line, int column, const std::string& file = "t.yaml") {
  INFO(d.to_string());
  CHECK(d.location.file == file);
  CHECK(d.location.line == line);
  CHECK(d.location.column == column);
}

/// A fresh, empty folder under the system temp folder, removed with the object.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = std::filesystem::temp_directory_path() /
            ("tasker-unit-" + std::to_string(stamp) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

  /// Write `text` to `relative` (creating folders); returns the full path.
  std::filesystem::path write(const std::filesystem::path& relative, const std::string& text) const {
    auto full = path_ / relative;
    std::filesystem::create_directories(full.parent_path());
    std::ofstream out(full, std::ios::binary);
    out << text;
    return full;
  }

 private:
  std::filesystem::path path_;
};

/// A minimal valid template with one step, named as given.
inline std::string minimal_template(const std::string& name = "t", const std::string& ns = "ns",
                                    const std::string& version = "1.0.0") {
  return "name: " + name + "\nnamespace_name: " + ns + "\nversion: " + version +
         "\nsteps:\n  - name: only\n    handler:\n      callable: h.only\n";
}

}  // namespace tasker::test
