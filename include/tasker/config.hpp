#pragma once
// Configuration (docs/configuration.md lists every setting). Precedence, lowest first:
// defaults, the YAML file's top level, its `environments.<env>` section, then
// environment variables. Every bad value raises ConfigurationError naming the
// key and where the value came from.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tasker/limits.hpp"
#include "tasker/store.hpp"

namespace tasker {

/// How workers learn that there is work (docs/design.md, "Wake-ups and events").
enum class EventMode {
  polling_only,  ///< poll every fallback_interval_ms
  event_driven,  ///< wake on notifications (and when a known retry or lease falls due)
  hybrid,        ///< notifications plus a fallback poll (the default)
};

[[nodiscard]] std::string_view to_string(EventMode mode);

struct WorkerSettings {
  int concurrency{4};          ///< handler threads per worker
  int batch_size{16};          ///< most steps claimed per transaction
  long long lease_ms{30'000};  ///< a claim's lease; renewed every lease_ms/3 while a step runs
  EventMode event_mode{EventMode::hybrid};
  long long fallback_interval_ms{1'000};  ///< poll interval for polling_only and hybrid
  bool jitter{true};                      ///< randomise retry delays (off in the `test` environment)
};

/// A bearer token the HTTP API accepts (docs/api.md, "Authentication"): only its
/// SHA-256 is configured, never the token itself.
struct ApiKey {
  std::string name;                      ///< for logs and messages (never the token)
  std::string sha256;                    ///< lowercase hex SHA-256 of the token
  std::vector<std::string> permissions;  ///< `tasks:create`, `tasks:*`, `*`, ...
};

/// `tasker serve` and `tasker worker --listen` (docs/api.md, "Configuration").
struct ServerSettings {
  std::string listen{"127.0.0.1:8080"};     ///< HOST:PORT; port 0 picks a free one
  std::vector<ApiKey> api_keys;             ///< required unless listening on loopback
  std::string tls_cert;                     ///< PEM certificate chain; with tls_key, serve HTTPS
  std::string tls_key;                      ///< PEM private key
  long long max_body_bytes{1024LL * 1024};  ///< larger request bodies get 413
  int max_json_depth{64};                   ///< deeper request JSON gets 400
  long long read_timeout_ms{5'000};         ///< a client slower than this is cut off
  long long write_timeout_ms{5'000};
  int threads{16};  ///< connections served at once (each keep-alive connection holds one)
};

struct Config {
  std::string environment{"development"};
  std::string database_url{"sqlite://tasker.db"};
  std::vector<std::filesystem::path> template_paths;  ///< TASKER_TEMPLATE_PATH, ':'-separated
  int pool_size{4};                                   ///< database connections per process
  long long busy_timeout_ms{10'000};                  ///< SQLite: wait this long for the write lock
  std::string log_level{"warn"};
  WorkerSettings worker;
  ServerSettings server;
  Limits limits;            ///< `limits:` section and TASKER_LIMITS_* variables (docs/limits.md)
  ExpansionLimits dynamic;  ///< dynamic.max_steps_per_decision (100), dynamic.max_batch_workers (100000)

  /// Load from the environment and, when given (or named by TASKER_CONFIG), a YAML file.
  /// Throws ConfigurationError.
  static Config load(const std::optional<std::filesystem::path>& file = std::nullopt);

  /// Parse YAML text (for tests and embedding); `source` names it in errors.
  /// Environment variables are not read.
  static Config from_yaml(const std::string& yaml, const std::string& source, const std::string& environment);

  /// Options for open_store: pool size, busy timeout, and LISTEN unless the
  /// event mode is polling_only. (Workers' settings: WorkerOptions::from.)
  [[nodiscard]] StoreOptions store_options() const;
};

}  // namespace tasker
