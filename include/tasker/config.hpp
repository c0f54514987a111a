#pragma once
// Configuration (docs/configuration.md lists every setting). Precedence, lowest first:
// defaults, the YAML file's top level, its `environments.<env>` section, then
// environment variables. Every bad value raises ConfigurationError naming the
// key and where the value came from.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

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

struct Config {
  std::string environment{"development"};
  std::string database_url{"sqlite://tasker.db"};
  std::vector<std::filesystem::path> template_paths;  ///< TASKER_TEMPLATE_PATH, ':'-separated
  int pool_size{4};                                   ///< database connections per process
  long long busy_timeout_ms{10'000};                  ///< SQLite: wait this long for the write lock
  std::string log_level{"warn"};
  WorkerSettings worker;

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
