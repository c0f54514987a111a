#pragma once
// Retention (docs/retention.md): how long finished tasks are kept, and what a
// purge removes. Only finished tasks (complete, cancelled, error,
// resolved_manually) are ever purged;
// active tasks never are. Plain types and pure functions: the store selects
// and deletes (Store::purge_batch), Client::purge and the workers' retention
// thread run it in bounded batches.
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tasker/clock.hpp"
#include "tasker/json.hpp"
#include "tasker/states.hpp"

namespace tasker {

/// The version of an archive line's shape (docs/retention.md, "The archive").
inline constexpr int kArchiveFormatVersion = 1;

/// The task states a purge may remove: complete, cancelled, error, resolved_manually.
[[nodiscard]] const std::vector<TaskState>& purgeable_states();
/// A purgeable state by name; nullopt for anything else (unknown, or an active
/// state such as `pending`).
[[nodiscard]] std::optional<TaskState> parse_purgeable_state(std::string_view name);
/// "complete, cancelled, error, resolved_manually": the purgeable states for a message.
[[nodiscard]] std::string purgeable_state_names();

/// How long finished tasks of one state are kept: an age, or nullopt for ever.
using RetentionAge = std::optional<std::chrono::milliseconds>;

/// Ages by state. A state absent from `ages` is kept for ever; a namespace in
/// `namespaces` overrides the global age of the states it names (nullopt: for
/// ever) and inherits the others.
struct RetentionPolicy {
  std::map<TaskState, RetentionAge> ages;
  std::map<std::string, std::map<TaskState, RetentionAge>> namespaces;

  /// Whether the policy purges anything at all.
  [[nodiscard]] bool empty() const;
};

/// One set of tasks to purge: finished in `state` at or before `finished_before`,
/// in `namespace_name` (when set), outside `excluded_namespaces`.
struct PurgeSelection {
  TaskState state{TaskState::complete};
  TimePoint finished_before;
  std::optional<std::string> namespace_name;
  std::vector<std::string> excluded_namespaces;
};

/// The selections a policy stands for at `now`: per state, the global age for
/// the namespaces that do not override it, and one per override.
[[nodiscard]] std::vector<PurgeSelection> selections_of(const RetentionPolicy& policy, TimePoint now);

/// Receives the archive records (one JSON object a task, docs/retention.md) of
/// a batch before its delete commits; it must make them durable before it
/// returns (ArchiveFile fsyncs). Throwing aborts the batch: nothing is deleted.
using ArchiveSink = std::function<void(const std::vector<json>& records)>;

/// What to purge (Client::purge).
struct PurgeRequest {
  /// Finished longer ago than this; nullopt: by `policy` instead. 0 needs
  /// `states` (it would purge every finished task).
  std::optional<std::chrono::milliseconds> older_than;
  std::vector<TaskState> states;              ///< with older_than; empty: every purgeable state
  std::optional<std::string> namespace_name;  ///< only this namespace
  RetentionPolicy policy;                     ///< when older_than is nullopt
  bool dry_run{false};                        ///< count, change nothing
  int batch_size{200};                        ///< tasks per transaction, 1..1000
  ArchiveSink archive;                        ///< when set, every purged task is archived first
  /// Asked between batches; true stops the purge (a worker stopping).
  std::function<bool()> stop;
  /// A pause after each batch, so a long purge leaves the database (and a
  /// small machine's CPUs) to the workers between its transactions.
  std::chrono::milliseconds pause{0};

  /// Throws InvalidRequestError for a request Client::purge would refuse (an
  /// active state, a negative age, an age of 0 without states, neither an age
  /// nor a policy, pause or batch size out of range), before anything is
  /// opened or written.
  void validate() const;
};

struct PurgeResult {
  std::size_t tasks{0};  ///< purged, or with dry_run that would be
  std::map<TaskState, std::size_t> by_state;
  std::size_t transactions{0};
  /// The longest delete transaction (steady clock, for the log and the docs).
  std::chrono::microseconds longest_transaction{0};
  bool dry_run{false};
};

/// What a batch of Store::purge_batch did.
struct PurgeBatch {
  std::size_t tasks{0};
};

/// What Client::import_archive did.
struct ImportResult {
  std::size_t imported{0};
  std::size_t skipped{0};  ///< a task with that uuid existed already
};

[[nodiscard]] json to_json(const PurgeResult& result);
/// "3 complete, 0 cancelled, 1 error": the counts by state, for a log line or a summary.
[[nodiscard]] std::string describe_by_state(const PurgeResult& result);
[[nodiscard]] json to_json(const ImportResult& result);

}  // namespace tasker
