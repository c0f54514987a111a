// Compatibility: tasker-core's own template fixtures load unchanged, except the
// files that use step types tasker does not run yet, which are rejected by name.
// Built only where CMake found the fixtures (TASKER_REFERENCE_DIR).
#ifdef TASKER_REFERENCE_DIR

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "tasker/loader.hpp"

namespace {

const std::vector<std::string> kUnsupportedTypes{"decision", "batchable", "batch_worker", "deferred_convergence"};

std::vector<std::filesystem::path> reference_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(TASKER_REFERENCE_DIR)) {
    auto ext = entry.path().extension();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

/// The unsupported type an error names, or "" when it is some other error.
std::string unsupported_type_named(const tasker::Diagnostic& d) {
  if (d.message.find("not supported") == std::string::npos) return "";
  for (const auto& type : kUnsupportedTypes)
    if (d.message.find("`" + type + "`") != std::string::npos) return type;
  return "";
}

bool file_declares_type(const std::string& text, const std::string& type) {
  return std::regex_search(text,
                           std::regex("\\btype:[ \\t]*[\"']?" + type + "[\"']?[ \\t]*(#.*)?$", std::regex::multiline));
}

}  // namespace

TEST_CASE("reference templates: tasker-core's 127 fixtures load, or are rejected only for unsupported step types") {
  const auto files = reference_files();
  REQUIRE(files.size() == 127u);
  int loaded = 0, rejected = 0;
  for (const auto& file : files) {
    CAPTURE(file.string());
    tasker::LoadResult result;
    CHECK_NOTHROW(result = tasker::load_templates(file, tasker::test::env()));
    INFO(tasker::test::dump(result));
    CHECK(result.files == 1u);
    if (result.ok()) {
      ++loaded;
      CHECK_FALSE(result.templates.empty());
      for (const auto& t : result.templates) {
        CHECK_FALSE(t.name.empty());
        CHECK_FALSE(t.namespace_name.empty());
        CHECK_FALSE(t.steps.empty());
      }
      continue;
    }
    ++rejected;
    CHECK(result.templates.empty());
    const std::string text = read(file);
    auto errors = tasker::test::errors_of(result);
    CHECK_FALSE(errors.empty());
    for (const auto& d : errors) {
      CAPTURE(d.to_string());
      std::string type = unsupported_type_named(d);
      CHECK_MESSAGE(!type.empty(), "an error other than an unsupported step type");
      if (!type.empty()) {
        CHECK(file_declares_type(text, type));
        CHECK(d.key.size() > 5);
        CHECK(d.key.substr(d.key.size() - 5) == ".type");
        CHECK(d.location.file == file.string());
        CHECK(d.location.line > 0);
      }
    }
  }
  CHECK(loaded == 104);
  CHECK(rejected == 23);
}

TEST_CASE("reference templates: they load in the test environment too") {
  int loaded = 0;
  for (const auto& file : reference_files()) {
    CAPTURE(file.string());
    tasker::LoadResult result;
    CHECK_NOTHROW(result = tasker::load_templates(file, tasker::test::env("test")));
    if (result.ok()) ++loaded;
  }
  CHECK(loaded == 104);
}

#endif  // TASKER_REFERENCE_DIR
