// Contexts and results as JSON text, through the limits, canonicalisation and
// the identity hash: parse_json never builds a value deeper than allowed,
// measure_json agrees with dump() byte for byte, canonical text parses back to
// itself, and the identity hash of equal values is equal.
#include <cstddef>
#include <cstdint>
#include <string>

#include "check.hpp"
#include "tasker/errors.hpp"
#include "tasker/identity.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  tasker::JsonLimits limits;
  limits.max_depth = 64;
  limits.max_bytes = 1u << 20;
  tasker::json value;
  try {
    value = tasker::parse_json(text, limits, "the input");
  } catch (const tasker::LimitError& e) {
    FUZZ_CHECK(e.actual() > e.allowed());
    FUZZ_CHECK(fuzz::utf8(e.what()));
    return 0;
  } catch (const tasker::json::exception& e) {  // not JSON, or a number beyond a double
    FUZZ_CHECK(fuzz::utf8(tasker::json_error_text(e)));
    return 0;
  }
  const tasker::JsonMeasure m = tasker::measure_json(value);
  FUZZ_CHECK(m.depth <= limits.max_depth);
  FUZZ_CHECK(!m.invalid_utf8);  // the parser refuses text that is not UTF-8
  tasker::check_json(value, {limits.max_depth, 1u << 30}, "the input");

  const std::string canonical = tasker::canonical_json(value);
  FUZZ_CHECK(canonical.size() == m.bytes);
  const tasker::json again = tasker::json::parse(canonical);
  FUZZ_CHECK(tasker::canonical_json(again) == canonical);

  auto hash = [](const tasker::json& context) {
    return tasker::identity_hash(tasker::IdentityStrategy::strict, "ns", "name", "1.0.0", context, std::nullopt);
  };
  const auto h = hash(value);
  FUZZ_CHECK(h && h->size() == 64);
  FUZZ_CHECK(hash(again) == h);
  return 0;
}
