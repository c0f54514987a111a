// A persistent command's lines (docs/handlers.md, "Persistent handler
// processes") as arbitrary bytes: each is understood or refused with a
// ProtocolViolation, never anything else, and a result or failure message
// becomes a result within the limits or a failure whose message and context
// are valid UTF-8.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "check.hpp"
#include "engine/persistent_protocol.hpp"
#include "tasker/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string line(reinterpret_cast<const char*>(data), size);
  tasker::CommandSpec spec;
  spec.argv = {"handler"};
  spec.limits = {16, 4096};
  tasker::detail::ProcessMessage message;
  try {
    message = tasker::detail::parse_process_line(line, spec.limits, 8192);
  } catch (const tasker::detail::ProtocolViolation& v) {
    FUZZ_CHECK(fuzz::utf8(v.what()));
    return 0;
  }
  using Type = tasker::detail::ProcessMessage::Type;
  if (message.type != Type::result && message.type != Type::failure) return 0;
  try {
    const tasker::json result = tasker::detail::answered_outcome(spec, message, line);
    FUZZ_CHECK(message.type == Type::result);
    FUZZ_CHECK(fuzz::storable(result, spec.limits));
  } catch (const tasker::Error& e) {
    FUZZ_CHECK(fuzz::utf8(e.what()));
  }
  return 0;
}
