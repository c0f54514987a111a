#pragma once
// The seam between the shared SQL store and a database: a connection that runs
// parameterised statements, the dialect pieces that differ between SQLite and
// PostgreSQL, and the backend that makes connections. Internal to libtasker.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tasker::detail::sql {

/// A statement parameter. Statements are written with $1, $2, ... placeholders.
using Param = std::variant<std::nullptr_t, std::int64_t, std::string>;

/// A materialised result: every value as text (or NULL), as PostgreSQL's text
/// protocol gives it; SQLite values are converted the same way.
class Rows {
 public:
  using Row = std::vector<std::optional<std::string>>;
  std::vector<Row> rows;

  [[nodiscard]] std::size_t size() const { return rows.size(); }
  [[nodiscard]] bool empty() const { return rows.empty(); }
  [[nodiscard]] bool is_null(std::size_t row, std::size_t col) const { return !rows[row][col].has_value(); }
  [[nodiscard]] const std::string& text(std::size_t row, std::size_t col) const;
  [[nodiscard]] std::string text_or(std::size_t row, std::size_t col, const std::string& fallback) const;
  [[nodiscard]] std::int64_t integer(std::size_t row, std::size_t col) const;
  [[nodiscard]] std::optional<std::int64_t> optional_integer(std::size_t row, std::size_t col) const;
};

/// Throws TransientStorageError when `transient` (the transaction certainly did
/// not commit, so repeating it is safe), StorageError otherwise.
[[noreturn]] void throw_storage_error(const std::string& message, bool transient);

/// One database connection. Not thread-safe: the pool hands it to one thread at
/// a time. Implementations throw tasker::StorageError (retryable when the
/// transaction certainly did not commit: busy, deadlock, serialization failure,
/// broken connection before commit) or StorageInDoubtError (broken during commit).
class Connection {
 public:
  virtual ~Connection() = default;
  /// Start a read-write transaction (SQLite: BEGIN IMMEDIATE, taking the write lock).
  virtual void begin() = 0;
  /// Start a read-only transaction whose statements all see one snapshot, so a
  /// view read in several statements (a task's row, its step counts, its steps)
  /// never mixes states from before and after another transaction's commit.
  /// Takes no write lock; end it with commit().
  virtual void begin_read() = 0;
  virtual void commit() = 0;
  /// Never throws; after a failure the connection may be marked broken.
  virtual void rollback() noexcept = 0;
  /// Run a statement (prepared once per connection and cached by its text).
  virtual Rows query(const std::string& sql, std::span<const Param> params = {}) = 0;
  /// Run one statement as a transaction of its own, outside begin()/commit():
  /// on PostgreSQL one round trip instead of three. Like a COMMIT, a connection
  /// that breaks before the answer arrives leaves it in doubt
  /// (StorageInDoubtError). By default: begin(), query(), commit().
  virtual Rows call(const std::string& sql, std::span<const Param> params);
  /// Run several statements without parameters (DDL).
  virtual void execute_script(const std::string& sql) = 0;
  /// False once the connection is unusable; the pool then drops it.
  [[nodiscard]] virtual bool healthy() const = 0;
};

enum class ColumnType { integer, text, json };

/// What differs in SQL text between the backends.
struct Dialect {
  std::string name;
  /// DDL type names.
  std::string id_column;  ///< auto-incrementing 64-bit primary key
  std::string json_type;  ///< TEXT or JSONB
  /// " FOR UPDATE SKIP LOCKED" (PostgreSQL) or "" (SQLite: one writer at a time).
  std::string skip_locked;
  /// " FOR UPDATE" or "".
  std::string for_update;
  /// A table expression `(SELECT ... ) AS alias` expanding parameter $n, a JSON
  /// array of arrays, into rows with the given column names and types.
  std::function<std::string(int param, const std::vector<std::pair<std::string, ColumnType>>& columns,
                            const std::string& alias)>
      json_rows;
  /// The predicate "`column` is one of the elements of parameter $n", a JSON
  /// array of scalars of the given type. On PostgreSQL this is
  /// `column = ANY(ARRAY(...))`: the array is computed once and the predicate
  /// filters an index scan, so an ordered claim with LIMIT stops at its first
  /// rows and id lists probe primary keys, whatever the planner's statistics.
  std::function<std::string(const std::string& column, int param, ColumnType type)> in_list;
  /// The database has migration 4's server functions (tasker_submit,
  /// tasker_exchange), so a submit and a worker transaction take one round trip
  /// each (one_call.hpp). PostgreSQL only: SQLite has no round trips to save.
  bool server_functions{false};
};

/// A database: its dialect, and how to connect, lock migrations and notify.
class Backend {
 public:
  virtual ~Backend() = default;
  [[nodiscard]] virtual const Dialect& dialect() const = 0;
  [[nodiscard]] virtual std::string name() const = 0;
  [[nodiscard]] virtual std::string describe() const = 0;
  [[nodiscard]] virtual std::unique_ptr<Connection> connect() = 0;
  [[nodiscard]] virtual int pool_size() const = 0;
  /// Prepare a fresh connection's environment for migrations (PostgreSQL:
  /// create the schema) and serialise concurrent migrators (advisory lock).
  virtual void lock_migrations(Connection& connection) = 0;
  virtual void unlock_migrations(Connection& connection) noexcept = 0;
  /// Run inside a transaction so that other processes hear `payload` once it
  /// commits (PostgreSQL: NOTIFY). An empty payload says "work is available";
  /// the store defines the others (notification_payloads in changes.hpp). Default: nothing.
  virtual void notify_in_transaction(Connection& /*connection*/, const std::string& /*payload*/) {}
  /// The channel notify_in_transaction() sends on, for server functions that notify themselves.
  [[nodiscard]] virtual std::string notification_channel() const { return {}; }
  /// Start delivering other processes' notifications (their payloads) to
  /// `callback` (PostgreSQL: LISTEN on a dedicated connection). Default: nothing to listen to.
  /// By value: an override keeps the callback (this default's copy is the price of one signature).
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  virtual void listen(std::function<void(const std::string& payload)> /*callback*/) {}
  /// Stop the listener; called before the backend is destroyed.
  virtual void stop_listening() noexcept {}
};

}  // namespace tasker::detail::sql
