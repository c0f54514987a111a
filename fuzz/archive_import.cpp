// Archive files on arbitrary bytes (tasker archive import): read_archive
// returns records that each pass the archive's check, or refuses the whole
// input with an InvalidRequestError naming a line; never anything else.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "check.hpp"
#include "model/archive_format.hpp"
#include "tasker/archive.hpp"
#include "tasker/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    const auto records = tasker::read_archive(in, "fuzz.jsonl", tasker::JsonLimits{});
    for (const auto& r : records) tasker::detail::check_archive_record(r);  // throws only if the check let it through
  } catch (const tasker::InvalidRequestError& e) {
    FUZZ_CHECK(std::string(e.what()).find("fuzz.jsonl:") == 0);
  }
  return 0;
}
