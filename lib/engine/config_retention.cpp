#include "config_retention.hpp"

#include <fmt/format.h>

#include "config_auth.hpp"
#include "tasker/errors.hpp"
#include "tasker/task.hpp"

namespace tasker::detail {

namespace {

constexpr std::string_view kAges = "an age (90s, 15m, 2h, 7d; 0: as soon as it finishes) or `never`";

RetentionAge parse_age(const std::string& key, const std::string& source, const YAML::Node& node) {
  const std::string text = node.IsScalar() ? node.Scalar() : "";
  if (text == "never") return std::nullopt;
  if (auto age = parse_duration(text)) return age;
  throw ConfigurationError(key, source, fmt::format("`{}` is not {}", text, kAges));
}

/// The states of a mapping (`complete: 7d`), into `ages`; `allowed_extra` says
/// which other keys the mapping may hold (they are handled by the caller).
void set_ages(std::map<TaskState, RetentionAge>& ages, const std::string& prefix, const YAML::Node& node,
              const std::function<std::string(const YAML::Node&)>& where, const std::vector<std::string>& extra) {
  if (!node.IsMap()) throw ConfigurationError(prefix, where(node), "must be a mapping of states to ages");
  for (const auto& kv : node) {
    const std::string name = kv.first.Scalar();
    const std::string key = fmt::format("{}.{}", prefix, name);
    if (std::find(extra.begin(), extra.end(), name) != extra.end()) continue;
    const auto state = parse_purgeable_state(name);
    if (!state) {
      const bool active = parse_task_state(name).has_value();
      std::string keys = purgeable_state_names();
      for (const auto& e : extra) keys += ", " + e;
      throw ConfigurationError(key, where(kv.first),
                               active ? fmt::format("`{}` tasks are active and never purged; use {}", name, keys)
                                      : fmt::format("unknown setting; use {}", keys));
    }
    ages[*state] = parse_age(key, where(kv.second), kv.second);
  }
}

}  // namespace

void set_retention(RetentionSettings& settings, const YAML::Node& node,
                   const std::function<std::string(const YAML::Node&)>& where) {
  const std::vector<std::string> extra{"namespaces", "interval", "batch_size", "pause_ms"};
  set_ages(settings.policy.ages, "retention", node, where, extra);
  if (const auto interval = node["interval"]) {
    const std::string text = interval.IsScalar() ? interval.Scalar() : "";
    const auto d = parse_duration(text);
    if (!d || d->count() < 1000)
      throw ConfigurationError("retention.interval", where(interval),
                               fmt::format("`{}` is not a duration of at least 1s (e.g. 60s, 5m, 1h)", text));
    settings.interval_ms = d->count();
  }
  if (const auto pause = node["pause_ms"])
    settings.pause_ms =
        parse_config_number("retention.pause_ms", where(pause), pause.IsScalar() ? pause.Scalar() : "", 0, 60'000);
  if (const auto batch = node["batch_size"])
    settings.batch_size = static_cast<int>(
        parse_config_number("retention.batch_size", where(batch), batch.IsScalar() ? batch.Scalar() : "", 1, 1000));
  if (const auto namespaces = node["namespaces"]) {
    if (!namespaces.IsMap())
      throw ConfigurationError("retention.namespaces", where(namespaces),
                               "must map namespace names to ages by state (e.g. billing: {error: 90d})");
    for (const auto& ns : namespaces) {
      const std::string name = ns.first.Scalar();
      set_ages(settings.policy.namespaces[name], "retention.namespaces." + name, ns.second, where, {});
    }
  }
}

}  // namespace tasker::detail
