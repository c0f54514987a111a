#pragma once
// Configuration (docs/configuration.md lists every setting). Precedence, lowest first:
// defaults, the YAML file's top level, its `environments.<env>` section, then
// environment variables. Every bad value raises ConfigurationError naming the
// key and where the value came from.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tasker/dlq.hpp"
#include "tasker/limits.hpp"
#include "tasker/retention.hpp"
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
  bool schedules{true};                   ///< fire due cron schedules (worker.schedules; docs/schedules.md)
  bool retention{true};                   ///< apply the retention policy (worker.retention; docs/retention.md)
  bool dead_letters{true};                ///< make dead-letter entries (worker.dead_letters; docs/triage.md)
};

/// The `dlq` section (docs/triage.md): when a task is stale, and how often
/// workers look for tasks that need a dead-letter entry.
struct DlqSettings {
  StalenessThresholds staleness;  ///< dlq.staleness.{enqueued,waiting_for_retry,in_progress}; each > 0
  bool detect_staleness{true};    ///< dlq.detect_staleness: false makes entries for tasks in error only
  long long interval_ms{10'000};  ///< dlq.interval: how often each worker looks (at least 1s)
};

/// The `retention` section (docs/retention.md): how long finished tasks are
/// kept, globally and per namespace; workers apply it.
struct RetentionSettings {
  RetentionPolicy policy;         ///< empty (the default): every task is kept for ever
  long long interval_ms{60'000};  ///< retention.interval: how often each worker applies it
  int batch_size{200};            ///< retention.batch_size: tasks a purge transaction deletes
  long long pause_ms{100};        ///< retention.pause_ms: a worker's pause after each purge transaction
};

/// A bearer token the HTTP API accepts (docs/api.md, "Authentication"): only its
/// SHA-256 is configured, never the token itself.
struct ApiKey {
  std::string name;                      ///< for logs and messages (never the token)
  std::string sha256;                    ///< lowercase hex SHA-256 of the token
  std::vector<std::string> permissions;  ///< `tasks:create`, `tasks:*`, `*`, ...
};

/// JWT bearer tokens the HTTP API accepts beside API keys (docs/api.md, "JWT"):
/// RS256 only, verified with one RSA public key or the keys of a JWKS file.
/// Set a key source (exactly one of public_key, public_key_path, jwks_path),
/// issuer and audience to turn it on; the server checks these when it starts.
struct JwtSettings {
  std::string public_key;       ///< PEM text of the RSA public key
  std::string public_key_path;  ///< a PEM file holding it
  std::string jwks_path;        ///< a JWKS file (RFC 7517); a token's `kid` chooses the key
  std::string issuer;           ///< the `iss` every token must carry
  std::string audience;         ///< a token's `aud` (a string or a list) must hold it
  /// The claim whose strings are the token's permissions (a list, or one
  /// space-separated string as OAuth's `scope`); the API's permissions, as API keys have.
  std::string permissions_claim{"permissions"};
  int leeway_seconds{60};  ///< clock skew allowed on `exp` and `nbf`

  /// Whether any key source is set (then the server verifies JWTs).
  [[nodiscard]] bool enabled() const { return !public_key.empty() || !public_key_path.empty() || !jwks_path.empty(); }
};

/// `tasker serve` and `tasker worker --listen` (docs/api.md, "Configuration").
struct ServerSettings {
  std::string listen{"127.0.0.1:8080"};              ///< HOST:PORT; port 0 picks a free one
  std::vector<ApiKey> api_keys;                      ///< API keys or JWT required unless listening on loopback
  std::string tls_cert;                              ///< PEM certificate chain; with tls_key, serve HTTPS
  std::string tls_key;                               ///< PEM private key
  long long max_body_bytes{1024LL * 1024};           ///< larger request bodies get 413, whatever their transfer coding
  int max_json_depth{64};                            ///< deeper request JSON gets 400
  int max_header_bytes{16 * 1024};                   ///< request line and headers together; more gets 431
  int max_header_count{100};                         ///< header fields in one request; more gets 431
  long long max_response_bytes{64LL * 1024 * 1024};  ///< an answer larger is refused (500 RESPONSE_TOO_LARGE)
  long long list_context_bytes{16LL * 1024};         ///< lists leave out a context larger than this (a link instead)
  // Deadlines: each covers the whole operation, however slowly the bytes come.
  long long handshake_timeout_ms{5'000};  ///< TLS handshake, from the connection's accept
  long long header_timeout_ms{10'000};    ///< a request's line and headers, from its first byte
  long long body_timeout_ms{30'000};      ///< a request's body, from the end of its header
  long long write_timeout_ms{30'000};     ///< an answer, from its first byte to its last
  long long idle_timeout_ms{30'000};      ///< a kept-alive connection between requests
  long long shutdown_grace_ms{10'000};    ///< on stop(): how long requests in progress may take to finish
  int threads{16};                        ///< requests handled at once (route handlers; I/O is on one thread)
  int queue_limit{256};                   ///< requests waiting for a thread; beyond it, 503
  int max_connections{512};               ///< open connections; beyond it, new ones are closed at once
  int max_connections_per_client{128};    ///< open connections from one client address
  /// Host names (besides loopback names and the listen host) a keyless server
  /// answers to: without keys, any other Host is refused (DNS rebinding).
  std::vector<std::string> allowed_hosts;
  JwtSettings jwt;  ///< JWT bearer tokens beside API keys (off unless a key source is set)
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
  RetentionSettings retention;
  DlqSettings dlq;

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
