#include "tasker/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tasker/errors.hpp"
#include "tasker/loader.hpp"

namespace tasker {

std::string_view to_string(EventMode mode) {
  switch (mode) {
    case EventMode::polling_only: return "polling_only";
    case EventMode::event_driven: return "event_driven";
    case EventMode::hybrid: return "hybrid";
  }
  return "unknown";
}

namespace {

std::vector<std::filesystem::path> split_paths(const std::string& value) {
  std::vector<std::filesystem::path> out;
  std::stringstream in(value);
  for (std::string part; std::getline(in, part, ':');)
    if (!part.empty()) out.emplace_back(part);
  return out;
}

long long parse_number(const std::string& key, const std::string& source, const std::string& text, long long min,
                       long long max) {
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size())
    throw ConfigurationError(key, source, fmt::format("`{}` is not a whole number", text));
  if (value < min || value > max)
    throw ConfigurationError(key, source, fmt::format("{} is outside {}..{}", value, min, max));
  return value;
}

bool parse_bool(const std::string& key, const std::string& source, const std::string& text) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  throw ConfigurationError(key, source, fmt::format("`{}` is not true or false", text));
}

EventMode parse_mode(const std::string& key, const std::string& source, const std::string& text) {
  for (auto mode : {EventMode::polling_only, EventMode::event_driven, EventMode::hybrid})
    if (to_string(mode) == text) return mode;
  throw ConfigurationError(key, source,
                           fmt::format("unknown mode `{}` (use polling_only, event_driven or hybrid)", text));
}

void check_url(const std::string& key, const std::string& source, const std::string& url) {
  if (url.rfind("sqlite:", 0) == 0 || url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) return;
  throw ConfigurationError(key, source,
                           fmt::format("`{}` is not a database URL; use sqlite://path.db, sqlite::memory: or "
                                       "postgresql://user:pass@host:port/db",
                                       url));
}

/// Every setting a configuration file may hold (docs/configuration.md).
const std::vector<std::string> kKeys{"database_url",
                                     "database.url",
                                     "template_path",
                                     "database.pool_size",
                                     "database.busy_timeout_ms",
                                     "log_level",
                                     "worker.concurrency",
                                     "worker.batch_size",
                                     "worker.lease_ms",
                                     "worker.jitter",
                                     "event_system.mode",
                                     "event_system.fallback_interval_ms"};

/// Applies one mapping of settings (the file's top level or an environment section).
class Section {
 public:
  Section(Config& config, std::string source, std::string label = {})
      : config_(config), source_(std::move(source)), label_(std::move(label)) {}

  void apply(const YAML::Node& node, const std::string& prefix = {}) {
    if (!node.IsMap())
      throw ConfigurationError(prefix.empty() ? "<root>" : prefix, where(node), "must be a mapping of settings");
    for (const auto& kv : node) {
      std::string key = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
      const YAML::Node& value = kv.second;
      if (key == "environments" && prefix.empty()) continue;  // applied separately
      if (prefix.empty() && is_section(key)) {
        if (!value.IsMap()) throw ConfigurationError(key, where(value), "must be a mapping of settings");
        apply(value, key);
        continue;
      }
      set(key, value);
    }
  }

 private:
  std::string where(const YAML::Node& node) const {
    auto mark = node.Mark();
    std::string at = mark.line >= 0 ? fmt::format("{}:{}:{}", source_, mark.line + 1, mark.column + 1) : source_;
    return label_.empty() ? at : fmt::format("{} ({})", at, label_);
  }

  static bool is_section(const std::string& key) {
    return key == "worker" || key == "event_system" || key == "database";
  }

  void set(const std::string& key, const YAML::Node& node) {
    std::string source = where(node);
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
      std::string suggestion = closest_match(key, kKeys);
      throw ConfigurationError(key, source,
                               fmt::format("unknown setting{} (every setting is listed in docs/configuration.md)",
                                           suggestion.empty() ? "" : fmt::format("; did you mean `{}`?", suggestion)));
    }
    if (!node.IsScalar()) throw ConfigurationError(key, source, "must be a single value");
    const std::string& v = node.Scalar();
    if (key == "database_url" || key == "database.url") {
      check_url(key, source, v);
      config_.database_url = v;
    } else if (key == "template_path") {
      config_.template_paths = split_paths(v);
    } else if (key == "database.pool_size") {
      config_.pool_size = static_cast<int>(parse_number(key, source, v, 1, 256));
    } else if (key == "database.busy_timeout_ms") {
      config_.busy_timeout_ms = parse_number(key, source, v, 0, 600'000);
    } else if (key == "log_level") {
      config_.log_level = v;
    } else if (key == "worker.concurrency") {
      config_.worker.concurrency = static_cast<int>(parse_number(key, source, v, 1, 1024));
    } else if (key == "worker.batch_size") {
      config_.worker.batch_size = static_cast<int>(parse_number(key, source, v, 1, 1000));
    } else if (key == "worker.lease_ms") {
      config_.worker.lease_ms = parse_number(key, source, v, 100, 24LL * 3600 * 1000);
    } else if (key == "worker.jitter") {
      config_.worker.jitter = parse_bool(key, source, v);
    } else if (key == "event_system.mode") {
      config_.worker.event_mode = parse_mode(key, source, v);
    } else if (key == "event_system.fallback_interval_ms") {
      config_.worker.fallback_interval_ms = parse_number(key, source, v, 10, 3'600'000);
    }
  }

  Config& config_;
  std::string source_;
  std::string label_;
};

void apply_yaml(Config& config, const std::string& yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    throw ConfigurationError("<file>", fmt::format("{}:{}:{}", source, e.mark.line + 1, e.mark.column + 1),
                             "invalid YAML: " + e.msg);
  }
  if (root.IsNull()) return;
  Section(config, source).apply(root);
  if (auto envs = root["environments"]) {
    if (!envs.IsMap()) throw ConfigurationError("environments", source, "must map environment names to settings");
    for (const auto& env : envs) {
      if (env.second.IsNull()) continue;
      // Every section is checked; only the active environment's applies.
      Config scratch = config;
      bool active = env.first.Scalar() == config.environment;
      Section(active ? config : scratch, source, "environments." + env.first.Scalar()).apply(env.second);
    }
  }
}

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

}  // namespace

Config Config::from_yaml(const std::string& yaml, const std::string& source, const std::string& environment) {
  Config config;
  config.environment = environment;
  config.worker.jitter = environment != "test";
  apply_yaml(config, yaml, source);
  return config;
}

Config Config::load(const std::optional<std::filesystem::path>& file) {
  Config config;
  config.environment = default_environment();
  config.worker.jitter = config.environment != "test";
  std::optional<std::filesystem::path> path = file;
  if (!path)
    if (auto named = env("TASKER_CONFIG")) path = *named;
  if (path) {
    std::ifstream in(*path);
    if (!in)
      throw ConfigurationError(file ? "--config" : "TASKER_CONFIG", path->string(),
                               "cannot read the configuration file; check the path");
    std::stringstream buffer;
    buffer << in.rdbuf();
    apply_yaml(config, buffer.str(), path->string());
  }
  if (auto url = env("TASKER_DATABASE_URL")) {
    check_url("TASKER_DATABASE_URL", "the environment", *url);
    config.database_url = *url;
  } else if (auto fallback = env("DATABASE_URL")) {
    check_url("DATABASE_URL", "the environment", *fallback);
    config.database_url = *fallback;
  }
  if (auto paths = env("TASKER_TEMPLATE_PATH")) config.template_paths = split_paths(*paths);
  if (auto level = env("TASKER_LOG_LEVEL")) config.log_level = *level;
  return config;
}

StoreOptions Config::store_options() const {
  StoreOptions o;
  o.pool_size = pool_size;
  o.busy_timeout_ms = busy_timeout_ms;
  o.listen = worker.event_mode != EventMode::polling_only;  // a polling worker needs no LISTEN connection
  return o;
}

}  // namespace tasker
