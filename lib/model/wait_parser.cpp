// The template loader's Parser (template_parser.hpp) on a waiting step
// (docs/templates.md, "Waiting steps"): `type: signal` with its optional
// `signal:` block, `type: sleep` with its `sleep:` block. Neither has a
// handler: the worker waits itself (model: SignalSpec, SleepSpec).
#include <fmt/format.h>

#include <algorithm>

#include "model/template_parser.hpp"
#include "model/yaml_values.hpp"

namespace tasker::detail::loader {

namespace {
const std::vector<std::string> kSignalKeys{"name", "timeout_seconds", "on_timeout", "on_timeout_result"};
const std::vector<std::string> kSleepKeys{"seconds", "until"};
}  // namespace

void Parser::parse_signal(const Entry& entry, const std::string& path, StepFields& out) {
  const std::string spath = join_key(path, "signal");
  out.wait_node = entry.key_node;
  SignalSpec spec;
  if (!expect_map(entry, path, /*allow_null=*/true)) return;
  if (entry.value.IsNull()) {
    out.signal = std::move(spec);
    return;
  }
  std::optional<YAML::Node> result_node;
  bool complete = false;
  for (const auto& e : entries(entry.value, spath)) {
    if (e.key == "name") {
      if (auto v = string_value(e, spath)) {
        if (v->size() > kMaxSignalNameLength)
          error(e.value, join_key(spath, e.key),
                fmt::format("the signal name is {} bytes, more than {}", v->size(), kMaxSignalNameLength),
                "use a shorter name: senders name it in every signal");
        spec.name = *v;
      }
    } else if (e.key == "timeout_seconds") {
      if (auto v = integer_value(e, spath, 1, kMaxSleepSeconds, " s")) spec.timeout_seconds = static_cast<int>(*v);
    } else if (e.key == "on_timeout") {
      if (auto v = string_value(e, spath)) {
        if (*v == "complete" || *v == "fail")
          complete = *v == "complete";
        else
          error(e.value, join_key(spath, e.key), fmt::format("unknown on_timeout `{}`", *v),
                "use fail (the default: the step fails, error_type signal_timeout) or complete");
      }
    } else if (e.key == "on_timeout_result") {
      spec.on_timeout_result = to_json(e.value);
      result_node = e.key_node;
      if (!spec.on_timeout_result.is_object())
        error(e.value, join_key(spath, e.key), "`on_timeout_result` must be a mapping (the step's result)",
              "e.g. `on_timeout_result: {approved: false}`");
    } else {
      error(e.key_node, join_key(spath, e.key), fmt::format("unknown key `{}` in `signal`", e.key),
            "a signal step's `signal:` takes name, timeout_seconds, on_timeout and on_timeout_result");
    }
  }
  spec.complete_on_timeout = complete;
  if (result_node && !complete)
    error(*result_node, join_key(spath, "on_timeout_result"),
          "`on_timeout_result` is the result when the signal times out, and `on_timeout` is not `complete`",
          "add `on_timeout: complete`, or remove `on_timeout_result`");
  if (complete && !spec.timeout_seconds)
    error(entry.key_node, spath, "`on_timeout: complete` without `timeout_seconds`: the step never times out",
          "add `timeout_seconds: N`, or remove `on_timeout`");
  out.signal = std::move(spec);
}

void Parser::parse_sleep(const Entry& entry, const std::string& path, StepFields& out) {
  const std::string spath = join_key(path, "sleep");
  out.wait_node = entry.key_node;
  if (!expect_map(entry, path)) return;
  SleepSpec spec;
  int given = 0;
  for (const auto& e : entries(entry.value, spath)) {
    if (e.key == "seconds") {
      ++given;
      if (auto v = integer_value(e, spath, 0, kMaxSleepSeconds, " s")) spec.seconds = *v;
    } else if (e.key == "until") {
      ++given;
      if (auto v = string_value(e, spath)) {
        spec.until = *v;
        const auto dot = v->find('.');
        if (dot == std::string::npos || dot == 0 || dot + 1 == v->size() || v->back() == '.' ||
            v->find("..") != std::string::npos)
          error(e.value, join_key(spath, e.key), fmt::format("`until: {}` is not a path to a time", *v),
                "write `context.<field>` (the task's context) or `<dependency>.<field>` (a dependency's result), "
                "naming an RFC 3339 time");
      }
    } else {
      error(e.key_node, join_key(spath, e.key), fmt::format("unknown key `{}` in `sleep`", e.key),
            "a sleep step's `sleep:` takes exactly one of seconds and until");
    }
  }
  if (given != 1) {
    error(entry.key_node, spath,
          given == 0 ? "`sleep` gives neither `seconds` nor `until`" : "`sleep` gives both `seconds` and `until`",
          "give exactly one: `seconds: N`, or `until: context.<field>` / `until: <dependency>.<field>`");
    return;
  }
  out.sleep = std::move(spec);
}

void Parser::check_waiting_step(const YAML::Node& node, const std::string& path, StepFields& out) {
  const std::string name = out.name.value_or(path);
  const bool is_signal = out.type == StepType::signal;
  const bool is_sleep = out.type == StepType::sleep;
  if (!is_signal && !is_sleep) {
    const bool signal = static_cast<bool>(out.signal);
    error(*out.wait_node, join_key(path, signal ? "signal" : "sleep"),
          fmt::format("step `{}` has `{}:` but is not a {} step", name, signal ? "signal" : "sleep",
                      signal ? "signal" : "sleep"),
          fmt::format("add `type: {}` (and remove its handler), or remove `{}:`", signal ? "signal" : "sleep",
                      signal ? "signal" : "sleep"));
    return;
  }
  const std::string_view type = is_signal ? "signal" : "sleep";
  if (node["handler"])
    error(node["handler"], join_key(path, "handler"), fmt::format("{} step `{}` has a `handler`", type, name),
          fmt::format("a {} step waits without a handler: remove `handler:`", type));
  if ((is_signal && out.sleep) || (is_sleep && out.signal))
    error(*out.wait_node, path,
          fmt::format("{} step `{}` has a `{}:` block", type, name, is_signal ? "sleep" : "signal"),
          fmt::format("remove it: a {} step takes `{}:`", type, type));
  if (is_signal && !out.signal) out.signal = SignalSpec{};
  if (is_sleep && !out.sleep && !out.wait_node)
    error(node, path, fmt::format("sleep step `{}` has no `sleep:`", name),
          "add `sleep: {seconds: N}` or `sleep: {until: context.<field>}`");
  if (is_sleep && out.sleep && !out.sleep->seconds) {
    const std::string& until = out.sleep->until;
    const std::string head = until.substr(0, until.find('.'));
    const auto& deps = out.dependencies ? *out.dependencies : std::vector<std::string>{};
    // A path without a field was reported where it was read.
    if (head != until && head != "context" && std::find(deps.begin(), deps.end(), head) == deps.end())
      error(*out.wait_node, join_key(path, "sleep.until"),
            fmt::format("`until: {}` reads step `{}`, which is not a dependency of `{}`", until, head, name),
            fmt::format("add `{}` to its dependencies, or read the task's context: `context.<field>`", head));
  }
}

}  // namespace tasker::detail::loader
