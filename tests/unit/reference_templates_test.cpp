// Compatibility: tasker-core's own template fixtures, all 127 of them, load
// unchanged, dynamic step types (decisions, batches, convergence) included.
// Built only where CMake found the fixtures (TASKER_REFERENCE_DIR).
#ifdef TASKER_REFERENCE_DIR

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "tasker/loader.hpp"

namespace {

std::vector<std::filesystem::path> reference_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(TASKER_REFERENCE_DIR)) {
    auto ext = entry.path().extension();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

TEST_CASE("reference templates: tasker-core's 127 fixtures load, without a single error") {
  const auto files = reference_files();
  REQUIRE(files.size() == 127u);
  int loaded = 0, dynamic = 0;
  for (const auto& file : files) {
    CAPTURE(file.string());
    tasker::LoadResult result;
    CHECK_NOTHROW(result = tasker::load_templates(file, tasker::test::env()));
    INFO(tasker::test::dump(result));
    CHECK(result.files == 1u);
    CHECK(result.ok());
    if (!result.ok()) continue;
    ++loaded;
    CHECK_FALSE(result.templates.empty());
    for (const auto& t : result.templates) {
      CHECK_FALSE(t.name.empty());
      CHECK_FALSE(t.namespace_name.empty());
      CHECK_FALSE(t.steps.empty());
      dynamic += t.has_dynamic_steps() ? 1 : 0;
    }
  }
  CHECK(loaded == 127);
  CHECK(dynamic == 23);  // decision, batch and convergence steps: the files tasker once rejected
}

TEST_CASE("reference templates: they load in the test environment too") {
  int loaded = 0;
  for (const auto& file : reference_files()) {
    CAPTURE(file.string());
    tasker::LoadResult result;
    CHECK_NOTHROW(result = tasker::load_templates(file, tasker::test::env("test")));
    if (result.ok()) ++loaded;
  }
  CHECK(loaded == 127);
}

#endif  // TASKER_REFERENCE_DIR
