// A command's exit status and output -> the step's result or failure. The
// output is the command's, not tasker's: it may be any bytes, any size (up to
// the runner's cap) and any depth, so it is parsed within limits and every
// piece of it that reaches a message or an error context is made valid UTF-8.
#include "engine/command_output.hpp"

#include <fmt/format.h>
#include <sys/wait.h>

#include <cstring>

#include "engine/job.hpp"
#include "tasker/errors.hpp"
#include "tasker/limits.hpp"
#include "tasker/retry.hpp"

namespace tasker::detail {

namespace {

using std::chrono::milliseconds;

bool blank(const std::string& text) { return text.find_first_not_of(" \t\r\n") == std::string::npos; }

/// The optional {"message", "retry_after_ms", "context"} of a failing command.
/// Output that is not such a document is ignored (a command may print anything
/// when it fails); one beyond the limits is ignored too, and `ignored` says why.
json failure_document(const std::string& out, const JsonLimits& limits, std::string& ignored) {
  if (blank(out)) return json::object();
  try {
    json doc = parse_json(out, limits, "the failure document");
    return doc.is_object() ? doc : json::object();
  } catch (const json::exception&) {  // not JSON (parse_error), or a number beyond a double (out_of_range)
    return json::object();
  } catch (const LimitError& e) {
    ignored = e.what();
    return json::object();
  }
}

}  // namespace

std::string tail(const std::string& text, std::size_t n) {
  std::string t = text.size() > n ? "..." + text.substr(text.size() - n) : text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return valid_utf8(t);
}

std::optional<milliseconds> retry_after_of(const json& doc) {
  auto it = doc.find("retry_after_ms");
  if (it == doc.end() || !it->is_number()) return std::nullopt;
  const double ms = it->get<double>();  // as a double: a huge or fractional value converts without overflow
  if (!(ms >= 0)) return milliseconds{0};
  return milliseconds{ms >= static_cast<double>(kMaxBackoffLimitMs) ? kMaxBackoffLimitMs : static_cast<long long>(ms)};
}

std::string CommandFailureContext::with_stderr(const std::string& message) const {
  return stderr_short.empty() ? message : message + "; stderr: " + stderr_short;
}

CommandFailureContext failure_context(const CommandSpec& spec, const std::string& err) {
  CommandFailureContext out;
  out.context = {{"command", spec.display()}};
  const std::string stderr_tail = tail(err, 2000);
  if (!stderr_tail.empty()) {
    out.context["stderr"] = stderr_tail;
    out.stderr_short = tail(err, 300);
  }
  return out;
}

json command_result(const CommandSpec& spec, const CommandExit& f) {
  const CommandFailureContext failure = failure_context(spec, f.err);
  json context = failure.context;
  auto with_stderr = [&](const std::string& message) { return failure.with_stderr(message); };
  if (f.killed_for_time) fail_with<RetryableError>("timeout", timeout_message(f.deadline), context);
  if (f.cancelled)
    fail_with<RetryableError>("cancelled", fmt::format("`{}` was stopped: the attempt was cancelled", spec.display()),
                              context);
  if (f.output_too_large)
    fail_with<PermanentError>("output_too_large",
                              fmt::format("`{}` wrote more than {} bytes; return large data by reference (a path "
                                          "or URL), not inline",
                                          spec.display(), spec.max_output_bytes),
                              context);
  if (WIFSIGNALED(f.status))
    fail_with<RetryableError>("command_crashed",
                              with_stderr(fmt::format("`{}` was killed by signal {} ({})", spec.display(),
                                                      WTERMSIG(f.status), strsignal(WTERMSIG(f.status)))),
                              context);
  const int code = WIFEXITED(f.status) ? WEXITSTATUS(f.status) : -1;
  if (code == 0) {
    if (blank(f.out)) return nullptr;
    try {
      return parse_json(f.out, spec.limits, "its stdout");
    } catch (const json::exception& e) {
      context["stdout"] = tail(f.out, 500);
      fail_with<RetryableError>(
          "invalid_output",
          with_stderr(fmt::format("`{}` exited 0 but its stdout is not JSON ({}; it starts with "
                                  "`{}`); print exactly one JSON document, logs go to stderr",
                                  spec.display(), json_error_text(e), tail(f.out.substr(0, 60), 60))),
          context);
    } catch (const LimitError& e) {
      fail_with<RetryableError>("invalid_output",
                                with_stderr(fmt::format("`{}` exited 0 but {}", spec.display(), e.what())), context);
    }
  }
  if (code == kCommandExitPermanent || code == kCommandExitRetryable) {
    std::string ignored;
    json doc = failure_document(f.out, spec.limits, ignored);
    auto message_it = doc.find("message");
    std::string message = message_it != doc.end() && message_it->is_string() ? message_it->get<std::string>() : "";
    if (message.empty()) message = fmt::format("`{}` failed (exit {})", spec.display(), code);
    if (!ignored.empty()) message += fmt::format(" (its stdout was ignored: {})", ignored);
    if (auto it = doc.find("context"); it != doc.end() && it->is_object())
      for (auto& [k, v] : it->items()) context[k] = v;
    if (code == kCommandExitPermanent) throw PermanentError(message, context);
    throw RetryableError(message, retry_after_of(doc), context);
  }
  fail_with<RetryableError>("command_failed",
                            with_stderr(fmt::format("`{}` exited with code {} (10 means a permanent failure, 11 a "
                                                    "retryable one; anything else is treated as a crash)",
                                                    spec.display(), code)),
                            context);
}

}  // namespace tasker::detail
