// The persistent protocol's lines. Everything a persistent command writes is
// untrusted: any bytes, any size up to the reader's cap, any depth, so each
// line is parsed within limits, its shape checked key by key, and anything
// else refused with a ProtocolViolation that says what was expected.
#include "engine/persistent_protocol.hpp"

#include <fmt/format.h>

#include "engine/command_output.hpp"
#include "tasker/errors.hpp"

namespace tasker::detail {

namespace {

constexpr const char* kDoc = "docs/handlers.md, \"Persistent handler processes\"";

std::string dumped(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

std::int64_t positive_integer(const json& message, const char* key, const std::string& type) {
  auto it = message.find(key);
  if (it == message.end() || !it->is_number_integer() || it->get<std::int64_t>() <= 0)
    throw ProtocolViolation(fmt::format("a `{}` message needs `{}`, a positive integer", type, key));
  return it->get<std::int64_t>();
}

/// The failure message's optional error_type: a short name (a Python exception's class).
bool plausible_error_type(const std::string& type) {
  if (type.empty() || type.size() > 100) return false;
  for (const unsigned char c : type)
    if (!(std::isalnum(c) || c == '_' || c == '.' || c == ':' || c == '-')) return false;
  return true;
}

}  // namespace

ProcessMessage parse_process_line(std::string_view line, const JsonLimits& limits, std::size_t max_line_bytes) {
  json message;
  try {
    message = parse_json(line, {limits.max_depth + 2, max_line_bytes}, "a line of the persistent protocol");
  } catch (const LimitError& e) {
    throw ProtocolViolation(e.what());
  } catch (const json::exception& e) {
    throw ProtocolViolation(
        fmt::format("a line is not JSON ({}; it starts with `{}`): stdout carries only the "
                    "protocol's messages, one JSON object per line; write logs to stderr ({})",
                    json_error_text(e), tail(std::string(line.substr(0, 60)), 60), kDoc));
  }
  if (!message.is_object() || !message.contains("type") || !message["type"].is_string())
    throw ProtocolViolation(fmt::format(
        "a line is not a message: each is a JSON object with a `type` (ready, request, result or failure; {})", kDoc));
  const std::string type = message["type"].get<std::string>();
  ProcessMessage out;
  if (type == "ready") {
    auto it = message.find("protocol");
    if (it == message.end() || !it->is_number_integer())
      throw ProtocolViolation("a `ready` message needs `protocol`, the version the command speaks");
    out.type = ProcessMessage::Type::ready;
    out.body = *it;
    return out;
  }
  if (type == "request") {
    out.type = ProcessMessage::Type::request;
    out.id = positive_integer(message, "id", type);
    out.request_id = positive_integer(message, "request_id", type);
    auto it = message.find("request");
    if (it == message.end() || !it->is_object())
      throw ProtocolViolation("a `request` message needs `request`, an object such as {\"heartbeat\": true}");
    out.body = std::move(*it);
    return out;
  }
  if (type == "result") {
    out.type = ProcessMessage::Type::result;
    out.id = positive_integer(message, "id", type);
    auto it = message.find("result");
    if (it == message.end()) throw ProtocolViolation("a `result` message needs `result` (null for none)");
    out.body = std::move(*it);
    return out;
  }
  if (type == "failure") {
    out.type = ProcessMessage::Type::failure;
    out.id = positive_integer(message, "id", type);
    if (!message.contains("retryable") || !message["retryable"].is_boolean())
      throw ProtocolViolation("a `failure` message needs `retryable`, true or false");
    if (message.contains("message") && !message["message"].is_string())
      throw ProtocolViolation("a `failure` message's `message` must be text");
    if (message.contains("context") && !message["context"].is_object())
      throw ProtocolViolation("a `failure` message's `context` must be an object");
    if (message.contains("error_type") &&
        !(message["error_type"].is_string() && plausible_error_type(message["error_type"].get<std::string>())))
      throw ProtocolViolation(
          "a `failure` message's `error_type` must be a name of at most 100 letters, digits, `_`, `.`, `:` or `-`");
    out.body = std::move(message);
    return out;
  }
  throw ProtocolViolation(
      fmt::format("unknown message type `{}`; a command sends ready, request, result or failure ({})", type, kDoc));
}

std::string attempt_line(std::int64_t id, const std::string& callable, const json& input) {
  return dumped({{"type", "attempt"}, {"id", id}, {"callable", callable}, {"input", input}}) + "\n";
}

std::string reply_line(std::int64_t id, std::int64_t request_id, const json& reply) {
  return dumped({{"type", "reply"}, {"id", id}, {"request_id", request_id}, {"reply", reply}}) + "\n";
}

json answered_outcome(const CommandSpec& spec, const ProcessMessage& message, const std::string& err) {
  const CommandFailureContext failure = failure_context(spec, err);
  if (message.type == ProcessMessage::Type::result) {
    try {
      check_json(message.body, spec.limits, "its result");
    } catch (const Error& e) {  // LimitError, or InvalidRequestError for text that is not UTF-8
      fail_with<RetryableError>("invalid_output",
                                failure.with_stderr(fmt::format("`{}` answered but {}", spec.display(), e.what())),
                                failure.context);
    }
    return message.body;
  }
  const bool retryable = message.body["retryable"].get<bool>();
  json doc = message.body;
  std::string ignored;
  try {
    check_json(doc, spec.limits, "its failure message");
  } catch (const Error& e) {  // kept out of the step's error, as a per-attempt command's oversized document is
    ignored = e.what();
    doc = {{"retryable", retryable}};
  }
  std::string text = doc.value("message", "");
  if (text.empty()) text = fmt::format("`{}` failed ({})", spec.display(), retryable ? "retryable" : "permanent");
  if (!ignored.empty()) text += fmt::format(" (its failure message was ignored: {})", ignored);
  json context = failure.context;
  if (auto it = doc.find("context"); it != doc.end())
    for (const auto& [k, v] : it->items()) context[k] = v;
  std::string type = doc.value("error_type", std::string(retryable ? "retryable_error" : "permanent_error"));
  if (retryable) fail_with<RetryableError>(std::move(type), text, std::move(context), retry_after_of(doc));
  fail_with<PermanentError>(std::move(type), text, std::move(context));
}

}  // namespace tasker::detail
