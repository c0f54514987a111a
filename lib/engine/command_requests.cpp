#include "engine/command_requests.hpp"

#include <fmt/format.h>

#include "tasker/errors.hpp"
#include "tasker/limits.hpp"

namespace tasker::detail {

namespace {
std::string line_of(const json& answer) { return answer.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; }

json refusal(const std::string& message, bool permanent = false) {
  json out = {{"ok", false}, {"error", message}};
  if (permanent) out["permanent"] = true;
  return out;
}
constexpr const char* kShape =
    "a request is one JSON object with one key: save_checkpoint, step_result or heartbeat "
    "(docs/handlers.md, \"Asking the worker\")";
}  // namespace

std::string CommandRequests::feed(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    if (c != '\n') {
      if (skipping_) continue;
      if (pending_.size() >= limits_.max_bytes) {
        out += line_of(refusal(limit_exceeded("a request line is longer", kJsonMaxBytesKey, limits_.max_bytes) +
                               "; save smaller checkpoints, or " + raise_limit_hint(kJsonMaxBytesKey)));
        pending_.clear();
        skipping_ = true;
        continue;
      }
      pending_ += c;
      continue;
    }
    if (!skipping_ && !pending_.empty()) out += answer(pending_);
    pending_.clear();
    skipping_ = false;
  }
  return out;
}

std::string CommandRequests::answer(const std::string& line) {
  json request;
  try {
    request = parse_json(line, limits_, "a request to the worker");
  } catch (const LimitError& e) {
    return line_of(refusal(e.what()));
  } catch (const json::exception& e) {
    return line_of(refusal(fmt::format("{}; it is not JSON: {}", kShape, json_error_text(e))));
  }
  return line_of(respond(request));
}

json CommandRequests::respond(const json& request) {
  if (!request.is_object() || request.size() != 1) return refusal(kShape);
  try {
    // A persistent process's requests arrive parsed, not yet held to the limits.
    check_json(request, limits_, "a request to the worker");
  } catch (const InvalidRequestError& e) {  // LimitError too
    return refusal(std::string(e.what()) + "; save smaller checkpoints");
  }
  try {
    if (request.contains("heartbeat")) {
      ctx_.heartbeat();
      return {{"ok", true}};
    }
    if (request.contains("step_result")) {
      const json& name = request["step_result"];
      if (!name.is_string()) return refusal("`step_result` takes a step name");
      return {{"ok", true}, {"result", ctx_.ancestor_result(name.get<std::string>())}};
    }
    if (request.contains("save_checkpoint")) {
      const json& c = request["save_checkpoint"];
      if (!c.is_object() || !c.contains("cursor") || !c.value("items_processed", json()).is_number_integer())
        return refusal(
            "`save_checkpoint` takes {\"cursor\": ..., \"items_processed\": N, \"accumulated_results\": ...}");
      const bool saved = ctx_.save_checkpoint(c["cursor"], c["items_processed"].get<std::int64_t>(),
                                              c.value("accumulated_results", json()));
      return {{"ok", true}, {"saved", saved}};
    }
  } catch (const PermanentError& e) {
    return refusal(e.what(), true);
  } catch (const std::exception& e) {
    return refusal(e.what());
  }
  return refusal(
      fmt::format("unknown request `{}`; use save_checkpoint, step_result or heartbeat", request.begin().key()));
}

}  // namespace tasker::detail
