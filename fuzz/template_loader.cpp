// The template loader on arbitrary YAML text: it never crashes, hangs or
// recurses without bound, and whatever it accepts (or says about what it
// rejects) can be stored and printed: every text valid UTF-8, every JSON
// value within the limits it was loaded with.
#include <cstddef>
#include <cstdint>
#include <string>

#include "check.hpp"
#include "tasker/loader.hpp"

namespace {

void check_text(const std::string& text) { FUZZ_CHECK(fuzz::utf8(text)); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  tasker::LoadOptions options;
  options.environment = "test";
  options.limits.max_depth = 32;  // small limits: the paths beyond them are reached quickly
  options.limits.max_nodes = 20'000;
  tasker::JsonLimits values;
  values.max_depth = options.limits.max_depth;
  values.max_bytes = 1u << 30;
  const tasker::LoadResult result = tasker::load_templates_from_string(yaml, "fuzz.yaml", options);
  for (const auto& d : result.diagnostics) {
    check_text(d.message);
    check_text(d.hint);
    check_text(d.key);
  }
  FUZZ_CHECK(result.ok() || result.templates.empty());
  for (const auto& t : result.templates) {
    for (const auto* text : {&t.name, &t.namespace_name, &t.version, &t.description}) check_text(*text);
    FUZZ_CHECK(fuzz::storable(t.metadata, values));
    FUZZ_CHECK(fuzz::storable(t.extra, values));
    FUZZ_CHECK(!t.steps.empty());
    for (const auto& s : t.steps) {
      check_text(s.name);
      check_text(s.handler.callable);
      for (const auto& arg : s.handler.command) check_text(arg);
      for (const auto& dependency : s.dependencies) check_text(dependency);
      FUZZ_CHECK(fuzz::storable(s.handler.initialization, values));
      FUZZ_CHECK(fuzz::storable(s.handler.extra, values));
      FUZZ_CHECK(fuzz::storable(s.extra, values));
    }
  }
  return 0;
}
