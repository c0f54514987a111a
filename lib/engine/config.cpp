#include "tasker/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "config_auth.hpp"
#include "config_retention.hpp"
#include "tasker/errors.hpp"
#include "tasker/loader.hpp"
#include "tasker/task.hpp"

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

using detail::parse_config_number;

bool parse_bool(const std::string& key, const std::string& source, const std::string& text) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  throw ConfigurationError(key, source, fmt::format("`{}` is not true or false", text));
}

/// A duration of at least `least` (`90s`, `15m`, `2h`, `7d`): zero, negative or malformed is refused.
std::chrono::milliseconds parse_positive_duration(const std::string& key, const std::string& source,
                                                  const std::string& text, std::chrono::milliseconds least) {
  const auto d = parse_duration(text);
  if (!d || *d < least)
    throw ConfigurationError(key, source,
                             fmt::format("`{}` is not a duration of at least {}s (a whole number and a unit: 90s, 15m, "
                                         "2h, 7d)",
                                         text, least.count() / 1000));
  return *d;
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

/// The numeric server.* settings: where each goes and its range.
struct ServerNumber {
  const char* key;
  long long ServerSettings::*wide;
  int ServerSettings::*narrow;
  long long min;
  long long max;
};
constexpr long long kMinute = 60'000;
const ServerNumber kServerNumbers[] = {
    {"server.max_body_bytes", &ServerSettings::max_body_bytes, nullptr, 1024, 1LL << 30},
    {"server.max_json_depth", nullptr, &ServerSettings::max_json_depth, 2, 10'000},
    {"server.max_header_bytes", nullptr, &ServerSettings::max_header_bytes, 1024, 1 << 20},
    {"server.max_header_count", nullptr, &ServerSettings::max_header_count, 8, 10'000},
    {"server.max_response_bytes", &ServerSettings::max_response_bytes, nullptr, 1LL << 20, 1LL << 32},
    {"server.list_context_bytes", &ServerSettings::list_context_bytes, nullptr, 0, 1LL << 30},
    {"server.handshake_timeout_ms", &ServerSettings::handshake_timeout_ms, nullptr, 10, 10 * kMinute},
    {"server.header_timeout_ms", &ServerSettings::header_timeout_ms, nullptr, 10, 10 * kMinute},
    {"server.body_timeout_ms", &ServerSettings::body_timeout_ms, nullptr, 10, 60 * kMinute},
    {"server.write_timeout_ms", &ServerSettings::write_timeout_ms, nullptr, 10, 60 * kMinute},
    {"server.idle_timeout_ms", &ServerSettings::idle_timeout_ms, nullptr, 10, 60 * kMinute},
    {"server.shutdown_grace_ms", &ServerSettings::shutdown_grace_ms, nullptr, 0, 10 * kMinute},
    {"server.threads", nullptr, &ServerSettings::threads, 1, 1024},
    {"server.queue_limit", nullptr, &ServerSettings::queue_limit, 0, 100'000},
    {"server.max_connections", nullptr, &ServerSettings::max_connections, 1, 100'000},
    {"server.max_connections_per_client", nullptr, &ServerSettings::max_connections_per_client, 1, 100'000},
};

const ServerNumber* server_number(const std::string& key) {
  for (const auto& n : kServerNumbers)
    if (key == n.key) return &n;
  return nullptr;
}

std::vector<std::string> all_keys(std::vector<std::string> keys) {
  for (const auto& n : kServerNumbers) keys.emplace_back(n.key);
  for (const auto& k : detail::jwt_keys()) keys.push_back(k);
  return keys;
}

/// Every setting a configuration file may hold (docs/configuration.md).
const std::vector<std::string> kKeys = all_keys({"database_url",
                                                 "database.url",
                                                 "template_path",
                                                 "database.pool_size",
                                                 "database.busy_timeout_ms",
                                                 "log_level",
                                                 "worker.concurrency",
                                                 "worker.batch_size",
                                                 "worker.lease_ms",
                                                 "worker.jitter",
                                                 "worker.schedules",
                                                 "worker.retention",
                                                 "worker.dead_letters",
                                                 "dlq.interval",
                                                 "dlq.detect_staleness",
                                                 "dlq.staleness.enqueued",
                                                 "dlq.staleness.waiting_for_retry",
                                                 "dlq.staleness.in_progress",
                                                 "event_system.mode",
                                                 "event_system.fallback_interval_ms",
                                                 "server.listen",
                                                 "server.tls.cert",
                                                 "server.tls.key",
                                                 "server.read_timeout_ms",
                                                 "server.allowed_hosts",
                                                 std::string(kJsonMaxDepthKey),
                                                 std::string(kJsonMaxBytesKey),
                                                 std::string(kTemplateMaxBytesKey),
                                                 std::string(kTemplateMaxDepthKey),
                                                 std::string(kTemplateMaxNodesKey),
                                                 "dynamic.max_steps_per_decision",
                                                 "dynamic.max_batch_workers"});

using detail::make_api_key;
using detail::parse_api_keys;

void check_listen(const std::string& key, const std::string& source, const std::string& listen) {
  auto colon = listen.rfind(':');
  bool ok = colon != std::string::npos && colon > 0 && colon + 1 < listen.size();
  if (ok) {
    long long port = -1;
    auto [end, ec] = std::from_chars(listen.data() + colon + 1, listen.data() + listen.size(), port);
    ok = ec == std::errc{} && end == listen.data() + listen.size() && port >= 0 && port <= 65535;
  }
  if (!ok)
    throw ConfigurationError(
        key, source, fmt::format("`{}` is not HOST:PORT (e.g. 127.0.0.1:8080, 0.0.0.0:8443, [::1]:8080)", listen));
}

/// The `limits` keys: each with its range and the field it sets. The upper
/// bounds keep what the limits protect safe: yaml-cpp refuses to nest deeper
/// than about 500 levels itself, and serialising JSON recurses once per level
/// (1,000 levels stay far inside a thread's stack).
struct LimitSetting {
  std::string_view key;
  long long min, max;
  std::size_t& (*field)(Limits&);
};
const LimitSetting kLimitSettings[] = {
    {kJsonMaxDepthKey, 1, 1'000, [](Limits& l) -> std::size_t& { return l.json.max_depth; }},
    {kJsonMaxBytesKey, 1, 1LL << 30, [](Limits& l) -> std::size_t& { return l.json.max_bytes; }},
    {kTemplateMaxBytesKey, 1, 1LL << 30, [](Limits& l) -> std::size_t& { return l.templates.max_bytes; }},
    {kTemplateMaxDepthKey, 1, 256, [](Limits& l) -> std::size_t& { return l.templates.max_depth; }},
    {kTemplateMaxNodesKey, 1, 1LL << 30, [](Limits& l) -> std::size_t& { return l.templates.max_nodes; }},
};

/// Sets the limit `key` (one of kLimitSettings).
void set_limit(Config& config, const std::string& key, const std::string& source, const std::string& text) {
  for (const auto& limit : kLimitSettings)
    if (key == limit.key)
      limit.field(config.limits) =
          static_cast<std::size_t>(parse_config_number(key, source, text, limit.min, limit.max));
}

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
      if ((prefix.empty() && is_section(key)) || key == "server.tls" || key == "server.jwt" || key == "dlq.staleness") {
        if (!value.IsMap()) throw ConfigurationError(key, where(value), "must be a mapping of settings");
        apply(value, key);
        continue;
      }
      if (key == "retention" && prefix.empty()) {
        detail::set_retention(config_.retention, value, [this](const YAML::Node& n) { return where(n); });
        continue;
      }
      if (key == "server.api_keys") {
        set_api_keys(key, value);
        continue;
      }
      if (key == "server.allowed_hosts") {
        set_allowed_hosts(key, value);
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
    return key == "worker" || key == "event_system" || key == "database" || key == "server" || key == "limits" ||
           key == "dynamic" || key == "dlq";
  }

  void set_allowed_hosts(const std::string& key, const YAML::Node& node) {
    if (!node.IsSequence())
      throw ConfigurationError(key, where(node), "must be a list of host names (e.g. [tasker.internal])");
    config_.server.allowed_hosts.clear();
    for (const auto& entry : node) {
      const std::string host = entry.IsScalar() ? entry.Scalar() : "";
      if (host.empty() || host.find_first_of(":/ []") != std::string::npos)
        throw ConfigurationError(key, where(entry), "each entry must be a host name without port or scheme");
      config_.server.allowed_hosts.push_back(host);
    }
  }

  void set_api_keys(const std::string& key, const YAML::Node& node) {
    if (!node.IsSequence())
      throw ConfigurationError(key, where(node), "must be a list of {name, sha256, permissions} mappings");
    config_.server.api_keys.clear();
    for (const auto& entry : node) {
      std::string source = where(entry);
      if (!entry.IsMap())
        throw ConfigurationError(key, source, "each API key must be a mapping {name, sha256, permissions}");
      std::vector<std::string> permissions;
      if (auto p = entry["permissions"]) {
        if (!p.IsSequence()) throw ConfigurationError(key, source, "`permissions` must be a list");
        for (const auto& item : p) permissions.push_back(item.Scalar());
      }
      for (const auto& kv : entry)
        if (auto k = kv.first.Scalar(); k != "name" && k != "sha256" && k != "permissions")
          throw ConfigurationError(key, source, fmt::format("unknown key `{}` (use name, sha256, permissions)", k));
      config_.server.api_keys.push_back(make_api_key(key, source, entry["name"] ? entry["name"].Scalar() : "",
                                                     entry["sha256"] ? entry["sha256"].Scalar() : "",
                                                     std::move(permissions)));
    }
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
      config_.pool_size = static_cast<int>(parse_config_number(key, source, v, 1, 256));
    } else if (key == "database.busy_timeout_ms") {
      config_.busy_timeout_ms = parse_config_number(key, source, v, 0, 600'000);
    } else if (key == "log_level") {
      config_.log_level = v;
    } else if (key == "worker.concurrency") {
      config_.worker.concurrency = static_cast<int>(parse_config_number(key, source, v, 1, 1024));
    } else if (key == "worker.batch_size") {
      config_.worker.batch_size = static_cast<int>(parse_config_number(key, source, v, 1, 1000));
    } else if (key == "worker.lease_ms") {
      config_.worker.lease_ms = parse_config_number(key, source, v, 100, 24LL * 3600 * 1000);
    } else if (key == "worker.jitter") {
      config_.worker.jitter = parse_bool(key, source, v);
    } else if (key == "worker.schedules") {
      config_.worker.schedules = parse_bool(key, source, v);
    } else if (key == "worker.retention") {
      config_.worker.retention = parse_bool(key, source, v);
    } else if (key == "worker.dead_letters") {
      config_.worker.dead_letters = parse_bool(key, source, v);
    } else if (key == "dlq.detect_staleness") {
      config_.dlq.detect_staleness = parse_bool(key, source, v);
    } else if (key == "dlq.interval") {
      config_.dlq.interval_ms = parse_positive_duration(key, source, v, std::chrono::seconds{1}).count();
    } else if (key == "dlq.staleness.enqueued") {
      config_.dlq.staleness.enqueued = parse_positive_duration(key, source, v, std::chrono::seconds{1});
    } else if (key == "dlq.staleness.waiting_for_retry") {
      config_.dlq.staleness.waiting_for_retry = parse_positive_duration(key, source, v, std::chrono::seconds{1});
    } else if (key == "dlq.staleness.in_progress") {
      config_.dlq.staleness.in_progress = parse_positive_duration(key, source, v, std::chrono::seconds{1});
    } else if (key == "event_system.mode") {
      config_.worker.event_mode = parse_mode(key, source, v);
    } else if (key == "dynamic.max_steps_per_decision") {
      config_.dynamic.max_steps_per_decision =
          static_cast<std::size_t>(parse_config_number(key, source, v, 1, 100'000));
    } else if (key == "dynamic.max_batch_workers") {
      config_.dynamic.max_batch_workers = static_cast<std::size_t>(parse_config_number(key, source, v, 1, 10'000'000));
    } else if (key == "event_system.fallback_interval_ms") {
      config_.worker.fallback_interval_ms = parse_config_number(key, source, v, 10, 3'600'000);
    } else if (key == "server.listen") {
      check_listen(key, source, v);
      config_.server.listen = v;
    } else if (key == "server.tls.cert") {
      config_.server.tls_cert = v;
    } else if (key == "server.tls.key") {
      config_.server.tls_key = v;
    } else if (key.rfind("server.jwt.", 0) == 0) {
      detail::set_jwt_setting(config_.server.jwt, key, source, v);
    } else if (key == "server.read_timeout_ms") {
      throw ConfigurationError(key, source,
                               "replaced by server.header_timeout_ms and server.body_timeout_ms, deadlines for a "
                               "request's whole header and whole body (docs/configuration.md)");
    } else if (const ServerNumber* n = server_number(key)) {
      const long long value = parse_config_number(key, source, v, n->min, n->max);
      if (n->wide)
        config_.server.*(n->wide) = value;
      else
        config_.server.*(n->narrow) = static_cast<int>(value);
    } else {
      set_limit(config_, key, source, v);  // the limits.* keys (kKeys holds them)
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
  if (auto listen = env("TASKER_LISTEN")) {
    check_listen("TASKER_LISTEN", "the environment", *listen);
    config.server.listen = *listen;
  }
  if (auto keys = env("TASKER_API_KEYS")) config.server.api_keys = parse_api_keys("TASKER_API_KEYS", *keys);
  detail::apply_jwt_environment(config.server.jwt);
  if (auto cert = env("TASKER_TLS_CERT")) config.server.tls_cert = *cert;
  if (auto key = env("TASKER_TLS_KEY")) config.server.tls_key = *key;
  for (const auto& limit : kLimitSettings) {
    const std::string name = limit_environment_variable(limit.key);
    if (auto value = env(name.c_str())) set_limit(config, std::string(limit.key), name, *value);
  }
  return config;
}

// The deprecated StoreOptions::from (CHANGELOG.md): what it returned before
// jitter became the worker's setting.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
StoreOptions StoreOptions::from(const Config& config) {
  StoreOptions o = config.store_options();
  o.jitter = config.worker.jitter;
  return o;
}
#pragma GCC diagnostic pop

StoreOptions Config::store_options() const {
  StoreOptions o;
  o.pool_size = pool_size;
  o.busy_timeout_ms = busy_timeout_ms;
  o.listen = worker.event_mode != EventMode::polling_only;  // a polling worker needs no LISTEN connection
  o.dynamic = dynamic;
  return o;
}

}  // namespace tasker
