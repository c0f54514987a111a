// SQLite: the embedded default. One writer at a time (BEGIN IMMEDIATE with a
// busy timeout), WAL so readers never block the writer, several processes may
// share a file. Statements are prepared once per connection.
#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>
#include <unordered_map>

#include "storage/backends.hpp"
#include "tasker/errors.hpp"

namespace tasker::detail {

namespace {

using sql::ColumnType;
using sql::Param;
using sql::Rows;

/// `$1` -> `?1` (SQLite's numbered parameters); `$` not followed by a digit
/// (JSON paths such as '$[0]') is left alone.
std::string translate_placeholders(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1])))
      out += '?';
    else
      out += text[i];
  }
  return out;
}

/// The database file as messages name it.
std::string shown(const std::string& path) {
  return path == ":memory:" ? path : std::filesystem::absolute(path).string();
}

/// A failure of the file itself, whatever statement met it, in words that name
/// the file and what to do; empty for every other error.
std::string file_failure(const SQLite::Exception& e, const std::string& path) {
  const char* what = nullptr;  // {} is the file
  const char* fix = nullptr;
  switch (e.getErrorCode() & 0xff) {
    case SQLITE_NOTADB:
      what = "{} is not a SQLite database";
      fix = "check that the database URL names a tasker database, not some other file";
      break;
    case SQLITE_CORRUPT:
      what = "the SQLite database {} is damaged, truncated or overwritten";
      fix =
          "restore it from a backup (the sqlite3 shell's `.recover` may save what is left) and do not write to it "
          "meanwhile";
      break;
    case SQLITE_READONLY:
      what = "the SQLite database {} cannot be written";
      fix = "the file and its folder must be writable by this process (the -wal and -shm files live beside it)";
      break;
    case SQLITE_FULL:
      what = "the disk holding the SQLite database {} is full";
      fix = "free some space";
      break;
    default: return {};
  }
  return fmt::format("{} (SQLite: {}); {}", fmt::format(fmt::runtime(what), shown(path)), e.what(), fix);
}

bool is_busy(const SQLite::Exception& e) {
  const int code = e.getErrorCode() & 0xff;
  return code == SQLITE_BUSY || code == SQLITE_LOCKED;
}

/// Busy errors are transient: the caller's transaction runner tries again.
[[noreturn]] void rethrow(const SQLite::Exception& e, const std::string& what, const std::string& path) {
  if (std::string failure = file_failure(e, path); !failure.empty()) throw StorageError(failure);
  if (!is_busy(e)) sql::throw_storage_error(fmt::format("SQLite: {}: {}", what, e.what()), false);
  sql::throw_storage_error(
      fmt::format("SQLite: {}: {} (another connection held the lock on {} for longer than the busy timeout); "
                  "find the process keeping it busy, or raise database.busy_timeout_ms",
                  what, e.what(), shown(path)),
      true);
}

class SqliteConnection final : public sql::Connection {
 public:
  SqliteConnection(const std::string& path, const std::string& synchronous, long long busy_timeout_ms)
      : path_(path), db_(open(path)) {
    db_.setBusyTimeout(static_cast<int>(busy_timeout_ms));
    // The first statements read the file's header: a file that is no database fails here.
    if (path != ":memory:") enter_wal(std::chrono::milliseconds(busy_timeout_ms));
    exec("PRAGMA synchronous=" + synchronous);
    exec("PRAGMA foreign_keys=ON");
  }

  void begin() override { exec("BEGIN IMMEDIATE"); }
  // DEFERRED: in WAL mode the first SELECT fixes the snapshot and writers go on.
  void begin_read() override { exec("BEGIN DEFERRED"); }
  void commit() override { exec("COMMIT"); }
  void rollback() noexcept override {
    try {
      if (!db_.getHandle() || sqlite3_get_autocommit(db_.getHandle())) return;
      db_.exec("ROLLBACK");
    } catch (...) {
      // Nothing to undo, or the connection is gone: either way there is no transaction left.
    }
  }

  Rows query(const std::string& sql, std::span<const Param> params) override {
    SQLite::Statement& stmt = prepared(sql);
    try {
      stmt.reset();
      stmt.clearBindings();
      for (std::size_t i = 0; i < params.size(); ++i) {
        int index = static_cast<int>(i + 1);
        std::visit(
            [&](const auto& v) {
              using T = std::decay_t<decltype(v)>;
              if constexpr (std::is_same_v<T, std::nullptr_t>)
                stmt.bind(index);
              else if constexpr (std::is_same_v<T, std::int64_t>)
                stmt.bind(index, static_cast<int64_t>(v));
              else
                stmt.bindNoCopy(index, v);
            },
            params[i]);
      }
      Rows rows;
      const int columns = stmt.getColumnCount();
      while (stmt.executeStep()) {
        Rows::Row row(static_cast<std::size_t>(columns));
        for (int c = 0; c < columns; ++c) {
          SQLite::Column col = stmt.getColumn(c);
          if (!col.isNull())
            row[static_cast<std::size_t>(c)] = std::string(col.getText(), static_cast<std::size_t>(col.getBytes()));
        }
        rows.rows.push_back(std::move(row));
      }
      stmt.reset();
      return rows;
    } catch (const SQLite::Exception& e) {
      try {
        stmt.reset();
      } catch (...) {
      }
      rethrow(e, "statement failed", path_);
    }
  }

  void execute_script(const std::string& sql) override { exec(sql); }
  bool healthy() const override { return true; }

 private:
  static SQLite::Database open(const std::string& path) {
    try {
      return SQLite::Database(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX);
    } catch (const SQLite::Exception& e) {
      throw StorageError(
          fmt::format("cannot open the SQLite database `{}`: {}; check that its folder exists and is "
                      "writable",
                      path, e.what()));
    }
  }

  /// Switching a file to WAL takes its exclusive lock in one try, without
  /// SQLite's busy handler: while another process creates, migrates or opens
  /// the same new file the switch can fail at once with SQLITE_BUSY. So it is
  /// tried again for as long as a writer waits for the lock. (A file system
  /// that cannot hold WAL's shared memory keeps the rollback journal: slower
  /// under readers, as correct.)
  void enter_wal(std::chrono::milliseconds busy_timeout) {
    const auto deadline = std::chrono::steady_clock::now() + busy_timeout;
    for (std::chrono::milliseconds pause{1};; pause = std::min(pause * 2, std::chrono::milliseconds{50})) {
      try {
        db_.exec("PRAGMA journal_mode=WAL");
        return;
      } catch (const SQLite::Exception& e) {
        if (!is_busy(e) || std::chrono::steady_clock::now() >= deadline) rethrow(e, "PRAGMA journal_mode=WAL", path_);
      }
      std::this_thread::sleep_for(pause);
    }
  }

  void exec(const std::string& sql) {
    try {
      db_.exec(sql);
    } catch (const SQLite::Exception& e) {
      rethrow(e, sql.size() > 40 ? sql.substr(0, 40) + "..." : sql, path_);
    }
  }

  SQLite::Statement& prepared(const std::string& sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return *it->second;
    try {
      auto stmt = std::make_unique<SQLite::Statement>(db_, translate_placeholders(sql));
      return *statements_.emplace(sql, std::move(stmt)).first->second;
    } catch (const SQLite::Exception& e) {
      rethrow(e, "cannot prepare statement", path_);
    }
  }

  std::string path_;  // before db_: open() and the error messages use it
  SQLite::Database db_;
  std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>> statements_;
};

sql::Dialect sqlite_dialect() {
  sql::Dialect d;
  d.name = "sqlite";
  d.id_column = "INTEGER PRIMARY KEY";
  d.json_type = "TEXT";
  d.json_rows = [](int param, const std::vector<std::pair<std::string, ColumnType>>& columns,
                   const std::string& alias) {
    std::string select;
    for (std::size_t i = 0; i < columns.size(); ++i)
      select += fmt::format("{}json_extract(value, '$[{}]') AS {}", i ? ", " : "", i, columns[i].first);
    return fmt::format("(SELECT {} FROM json_each(${})) AS {}", select, param, alias);
  };
  d.in_list = [](const std::string& column, int param, ColumnType) {
    return fmt::format("{} IN (SELECT value FROM json_each(${}))", column, param);
  };
  return d;
}

class SqliteBackend final : public sql::Backend {
 public:
  SqliteBackend(std::string path, std::string synchronous, const StoreOptions& options)
      : path_(std::move(path)), synchronous_(std::move(synchronous)), options_(options), dialect_(sqlite_dialect()) {}

  const sql::Dialect& dialect() const override { return dialect_; }
  std::string name() const override { return "sqlite"; }
  // The path is absolute (open_store makes it so): messages name the very file.
  std::string describe() const override { return path_ == ":memory:" ? "sqlite::memory:" : "sqlite://" + path_; }
  std::unique_ptr<sql::Connection> connect() override {
    return std::make_unique<SqliteConnection>(path_, synchronous_, options_.busy_timeout_ms);
  }
  // An in-memory database exists once per connection: it must have exactly one.
  int pool_size() const override { return path_ == ":memory:" ? 1 : options_.pool_size; }
  // BEGIN IMMEDIATE already serialises migrators on SQLite.
  void lock_migrations(sql::Connection&) override {}
  void unlock_migrations(sql::Connection&) noexcept override {}

 private:
  std::string path_;
  std::string synchronous_;
  StoreOptions options_;
  sql::Dialect dialect_;
};

}  // namespace

std::unique_ptr<sql::Backend> make_sqlite_backend(const sqlite::Target& target, const StoreOptions& options) {
  return std::make_unique<SqliteBackend>(target.path, sqlite::synchronous_of(target), options);
}

}  // namespace tasker::detail
