#include "tasker/errors.hpp"

#include <fmt/format.h>

namespace tasker {

namespace {
std::string summarize(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) {
    if (!out.empty()) out += '\n';
    out += d.to_string();
  }
  return out.empty() ? "invalid template" : out;
}
}  // namespace

TemplateError::TemplateError(std::vector<Diagnostic> diagnostics)
    : Error(summarize(diagnostics)), diagnostics_(std::move(diagnostics)) {}

TemplateError::TemplateError(const std::string& message, std::vector<Diagnostic> diagnostics)
    : Error(message), diagnostics_(std::move(diagnostics)) {}

ConfigurationError::ConfigurationError(std::string key, std::string source, const std::string& problem)
    : Error(fmt::format("configuration error: {} (key `{}`, from {})", problem, key, source)),
      key_(std::move(key)),
      source_(std::move(source)) {}

namespace {
std::string known_handlers(const std::vector<std::string>& known) {
  if (known.empty()) return "no handlers are registered";
  auto end = known.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(known.size(), 10));
  return fmt::format("registered: {}{}", fmt::join(known.begin(), end, ", "),
                     known.size() > 10 ? fmt::format(", ... ({} in all)", known.size()) : "");
}
}  // namespace

HandlerNotFoundError::HandlerNotFoundError(std::string callable, const std::vector<std::string>& known)
    : Error(fmt::format("no handler is registered for callable `{}` ({}); register one with "
                        "HandlerRegistry::add(\"{}\", ...) or give the step a `command:`",
                        callable, known_handlers(known), callable)),
      callable_(std::move(callable)) {}

DuplicateTaskError::DuplicateTaskError(std::string existing_task_uuid, std::string identity_hash)
    : Error(fmt::format("a task with the same identity already exists: {} (identity hash {}); "
                        "inspect it, or submit with a different idempotency_key or context",
                        existing_task_uuid, identity_hash)),
      existing_task_uuid_(std::move(existing_task_uuid)),
      identity_hash_(std::move(identity_hash)) {}

NotFoundError::NotFoundError(std::string kind, std::string id, const std::string& hint)
    : Error(fmt::format("{} `{}` not found{}", kind, id, hint.empty() ? "" : "; " + hint)),
      kind_(std::move(kind)),
      id_(std::move(id)) {}

}  // namespace tasker
