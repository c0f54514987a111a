// Cron expressions on arbitrary text: parsed or refused with an
// InvalidRequestError, never anything else; a parsed one names instants
// strictly after the one asked about, in a zone with daylight-saving changes
// and in UTC, and parses again from its own text to the same instants.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "check.hpp"
#include "tasker/cron.hpp"
#include "tasker/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto cron = tasker::CronExpression::parse(text);
    FUZZ_CHECK(cron.text().size() <= tasker::kMaxCronExpressionLength);
    // Just before Berlin's spring-forward gap (2026-03-29T01:00Z) and in its repeated hour in autumn.
    for (long long at : {1774745940000LL, 1792890000000LL}) {
      const tasker::TimePoint after{std::chrono::milliseconds{at}};
      for (const char* zone : {"Europe/Berlin", "UTC"}) {
        const auto next = cron.next_after(after, zone);
        if (next) {
          FUZZ_CHECK(*next > after);
          FUZZ_CHECK(tasker::CronExpression::parse(cron.text()).next_after(after, zone) == next);
        }
      }
    }
  } catch (const tasker::InvalidRequestError&) {
  }
  return 0;
}
