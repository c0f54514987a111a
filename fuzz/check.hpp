#pragma once
// A property a fuzz target holds its input to: when it fails, the target
// aborts, which libFuzzer reports as a crash and saves the input.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tasker/json.hpp"
#include "tasker/limits.hpp"

#define FUZZ_CHECK(condition)                                                                 \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (false)

namespace fuzz {

inline bool utf8(std::string_view text) { return tasker::invalid_utf8_offset(text) == std::string_view::npos; }

/// What the store does with a value: serialise it strictly (throws on invalid UTF-8).
inline bool storable(const tasker::json& value, const tasker::JsonLimits& limits = {}) {
  const tasker::JsonMeasure m = tasker::measure_json(value);
  if (m.depth > limits.max_depth || m.invalid_utf8) return false;
  return value.dump().size() == m.bytes;
}

}  // namespace fuzz
