// PostgreSQL: the production backend. Many worker processes share one
// database: claims use FOR UPDATE SKIP LOCKED, enqueueing transactions NOTIFY,
// and every store LISTENs on a dedicated connection so that workers in other
// processes wake at once. A `schema` URL option gives each store (each test)
// its own schema in one database.
//
// libpqxx 6.4 API only (pqxx::connection, pqxx::work, prepare/exec_prepared,
// notification_receiver). Nothing here leaks into a public header.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>
#include <unordered_map>

#include "base/log.hpp"
#include "storage/backends.hpp"
#include "storage/postgres/url.hpp"
#include "tasker/errors.hpp"

namespace tasker::detail {

namespace {

using sql::ColumnType;
using sql::Param;
using sql::Rows;

// ---------------------------------------------------------------------------
// The URL (parsed in storage/postgres/url.cpp) and identifiers

using postgres::kUrlHint;
using postgres::parse_url;
using postgres::Target;

std::string quote_ident(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

/// FNV-1a, 64 bits: a stable constant (advisory lock keys, channel suffixes).
std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// ---------------------------------------------------------------------------
// Errors

/// Whitespace runs (libpq's messages have newlines and tabs) become one space.
std::string one_line(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

/// The server's message without libpq's decorations: the first line (minus
/// "ERROR:  ") and any DETAIL or HINT lines; the query excerpt is dropped.
std::string server_message(const std::string& what) {
  std::string out;
  std::size_t start = 0;
  bool first = true;
  while (start < what.size()) {
    auto end = what.find('\n', start);
    std::string line = what.substr(start, end == std::string::npos ? std::string::npos : end - start);
    start = end == std::string::npos ? what.size() : end + 1;
    if (first) {
      for (const char* prefix : {"ERROR:  ", "FATAL:  ", "PANIC:  "})
        if (line.rfind(prefix, 0) == 0) line = line.substr(std::char_traits<char>::length(prefix));
      out = line;
      first = false;
    } else if (line.rfind("DETAIL:", 0) == 0 || line.rfind("HINT:", 0) == 0) {
      out += "; " + line;
    }
  }
  return one_line(out);
}

std::string first_line(const std::string& sql) {
  std::string line = sql.substr(0, sql.find('\n'));
  if (line.size() > 160) line = line.substr(0, 157) + "...";
  return line;
}

/// SQLSTATEs after which repeating the whole transaction is safe and sensible.
bool retryable_state(const std::string& state) {
  return state.rfind("40", 0) == 0  // transaction rollback: 40001 serialization, 40P01 deadlock
         || state == "55P03"        // lock_not_available
         || state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03";
}

/// SQLSTATEs after which the connection must not be used again.
bool fatal_state(const std::string& state) {
  return state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03";
}

// ---------------------------------------------------------------------------
// Connection

/// Server notices (and libpqxx's warnings) go to the log, not to stderr.
class LogNotices final : public pqxx::errorhandler {
 public:
  using pqxx::errorhandler::errorhandler;
  bool operator()(const char msg[]) noexcept override {
    try {
      detail::log().debug("PostgreSQL: {}", one_line(msg));
    } catch (...) {
    }
    return false;
  }
};

/// Open a libpqxx connection; failures become StorageError (or
/// ConfigurationError when libpq rejects the URL) naming the server and a fix.
std::unique_ptr<pqxx::connection> open_connection(const Target& target) {
  try {
    auto conn = std::make_unique<pqxx::connection>(target.libpq_uri);
    // A broken connection is dropped, never silently reconnected: a reconnect
    // would lose the session's search_path.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    conn->inhibit_reactivation(true);
#pragma GCC diagnostic pop
    return conn;
  } catch (const std::exception& e) {
    std::string msg = one_line(e.what());
    if (msg.rfind("invalid ", 0) == 0 || msg.find("URI") != std::string::npos)
      throw ConfigurationError("database_url", target.masked,
                               fmt::format("libpq rejects the URL: {}; {}", msg, kUrlHint));
    bool auth = msg.find("password") != std::string::npos || msg.find("authentication") != std::string::npos ||
                msg.find("pg_hba.conf") != std::string::npos;
    bool missing = msg.find("does not exist") != std::string::npos;
    std::string hint = auth ? "check the user name and password in the database URL"
                       : missing
                           ? "create the database (createdb) or correct its name in the database URL"
                           : "check that the server is running and accepts TCP connections on that host and port, "
                             "and that the database URL (TASKER_DATABASE_URL) names the right server";
    sql::throw_storage_error(fmt::format("cannot connect to PostgreSQL at {}: {}; {}", target.where, msg, hint),
                             !auth && !missing);
  }
}

/// The server process ids of a store's own pool connections: the listener
/// ignores their notifications, since the store already woke its own workers
/// when it committed.
class OwnSessions {
 public:
  void add(int pid) {
    std::lock_guard lock(mutex_);
    ++pids_[pid];
  }
  void remove(int pid) {
    std::lock_guard lock(mutex_);
    if (auto it = pids_.find(pid); it != pids_.end() && --it->second == 0) pids_.erase(it);
  }
  bool contains(int pid) const {
    std::lock_guard lock(mutex_);
    return pids_.count(pid) != 0;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<int, int> pids_;
};

class PostgresConnection final : public sql::Connection {
 public:
  PostgresConnection(const Target& target, std::shared_ptr<OwnSessions> sessions)
      : target_(target), conn_(open_connection(target)), sessions_(std::move(sessions)) {
    notices_ = std::make_unique<LogNotices>(*conn_);
    std::string setup = "SET client_min_messages TO warning";
    if (!target.schema.empty()) setup += "; SET search_path TO " + quote_ident(target.schema);
    execute_script(setup);
    pid_ = conn_->backendpid();
    if (sessions_) sessions_->add(pid_);
  }

  ~PostgresConnection() override {
    if (sessions_) sessions_->remove(pid_);
    work_.reset();
    notices_.reset();  // before the connection it is registered with
  }

  void begin() override { start<pqxx::work>(false); }
  // REPEATABLE READ: one snapshot for every statement; a read-only transaction
  // at this level never fails to serialise.
  void begin_read() override {
    start<pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::readwrite_policy::read_only>>(true);
  }

  void commit() override {
    if (!work_) throw StorageError("internal: commit() without a PostgreSQL transaction");
    try {
      work_->commit();
      work_.reset();
    } catch (...) {
      work_.reset();
      translate("COMMIT", !read_only_);
    }
  }

  void rollback() noexcept override {
    if (!work_) return;
    try {
      work_->abort();
    } catch (...) {
      // The connection is gone: there is no transaction left either way.
    }
    work_.reset();
    if (!conn_->is_open()) healthy_ = false;
  }

  Rows query(const std::string& sql, std::span<const Param> params) override {
    const std::string& name = prepared(sql);
    std::vector<std::string> storage;
    storage.reserve(params.size());
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const Param& p : params) {
      if (std::holds_alternative<std::nullptr_t>(p)) {
        values.push_back(nullptr);
        continue;
      }
      storage.push_back(std::holds_alternative<std::int64_t>(p) ? std::to_string(std::get<std::int64_t>(p))
                                                                : std::get<std::string>(p));
      values.push_back(storage.back().c_str());
    }
    try {
      pqxx::result r;
      if (work_) {
        r = work_->exec_prepared(name, pqxx::prepare::make_dynamic_params(values));
      } else {
        pqxx::nontransaction tx(*conn_);
        r = tx.exec_prepared(name, pqxx::prepare::make_dynamic_params(values));
      }
      return to_rows(r);
    } catch (...) {
      translate(sql, false);
    }
  }

  void execute_script(const std::string& sql) override {
    try {
      if (work_) {
        work_->exec(sql);
      } else {
        pqxx::nontransaction tx(*conn_);
        tx.exec(sql);
      }
    } catch (...) {
      translate(sql, false);
    }
  }

  bool healthy() const override { return healthy_; }

 private:
  static Rows to_rows(const pqxx::result& r) {
    Rows rows;
    rows.rows.reserve(r.size());
    const auto columns = static_cast<std::size_t>(r.columns());
    for (const auto& row : r) {
      Rows::Row out(columns);
      for (std::size_t c = 0; c < columns; ++c) {
        const pqxx::field f = row[static_cast<pqxx::row::size_type>(c)];
        if (!f.is_null()) out[c] = std::string(f.c_str(), f.size());
      }
      rows.rows.push_back(std::move(out));
    }
    return rows;
  }

  /// The statement's name, declared on first use (libpqxx prepares it on the
  /// server at its first execution, once per connection).
  const std::string& prepared(const std::string& sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second;
    std::string name = fmt::format("tasker_{}", statements_.size() + 1);
    try {
      conn_->prepare(name, sql);
    } catch (...) {
      translate(sql, false);
    }
    return statements_.emplace(sql, std::move(name)).first->second;
  }

  /// Rethrow the exception being handled as a tasker error, classified so
  /// that the shared store retries only what certainly did not commit.
  /// `committing`: the statement is the COMMIT of a transaction that wrote.
  [[noreturn]] void translate(const std::string& sql, bool committing) {
    const std::string where = fmt::format("PostgreSQL at {}", target_.where);
    // The server may have committed what the client never heard about.
    auto in_doubt = [&](const std::string& what) {
      return StorageInDoubtError(fmt::format(
          "{}: {}; the transaction may or may not have committed. Check whether it took effect before repeating "
          "it (a worker repeats its results safely; a submit repeated under strict identity or an idempotency key "
          "names the task if it exists)",
          where, what));
    };
    // Either kind of broken connection: in doubt when it broke in a COMMIT that mattered.
    auto connection_lost = [&](const std::exception& e) {
      healthy_ = false;
      if (committing)
        return std::make_exception_ptr(
            in_doubt(fmt::format("the connection broke while committing ({})", one_line(e.what()))));
      return std::make_exception_ptr(
          TransientStorageError(fmt::format("{}: the connection broke ({}) during `{}`; the transaction did not "
                                            "commit and is retried on a new connection",
                                            where, one_line(e.what()), first_line(sql))));
    };
    try {
      throw;
    } catch (const pqxx::in_doubt_error& e) {
      // A read-only COMMIT comes with committing false: nothing was at stake.
      std::rethrow_exception(connection_lost(e));
    } catch (const pqxx::broken_connection& e) {
      std::rethrow_exception(connection_lost(e));
    } catch (const pqxx::transaction_rollback& e) {
      // 40xxx: serialization failure, deadlock (libpqxx 6 gives these no sqlstate()).
      check_open();
      sql::throw_storage_error(fmt::format("{}: {} (the transaction was rolled back and is retried) in `{}`", where,
                                           server_message(e.what()), first_line(sql)),
                               !committing || healthy_);
    } catch (const pqxx::sql_error& e) {
      const std::string state = e.sqlstate();
      if (fatal_state(state)) healthy_ = false;
      check_open();
      const bool retry = (retryable_state(state) || !healthy_) && !committing;
      if (committing && !healthy_)
        throw in_doubt(fmt::format("the connection broke while committing ({})", server_message(e.what())));
      sql::throw_storage_error(
          fmt::format("{}: {}{} in `{}`{}", where, server_message(e.what()),
                      state.empty() ? "" : " (SQLSTATE " + state + ")", first_line(sql), retry ? "; retried" : ""),
          retry);
    } catch (const StorageError&) {
      throw;
    } catch (const std::exception& e) {
      check_open();
      if (committing && !healthy_) throw in_doubt(fmt::format("{} while committing", one_line(e.what())));
      sql::throw_storage_error(fmt::format("{}: {} in `{}`", where, one_line(e.what()), first_line(sql)), !healthy_);
    }
  }

  template <typename Transaction>
  void start(bool read_only) {
    if (work_) throw StorageError("internal: a PostgreSQL transaction began inside another");
    read_only_ = read_only;
    try {
      work_ = std::make_unique<Transaction>(*conn_);
    } catch (...) {
      work_.reset();
      translate("BEGIN", false);
    }
  }

  void check_open() {
    if (!conn_->is_open()) healthy_ = false;
  }

  const Target& target_;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<LogNotices> notices_;
  std::unique_ptr<pqxx::dbtransaction> work_;  // the open transaction, if any
  bool read_only_{false};                      // a lost COMMIT of a read changed nothing: not in doubt
  std::shared_ptr<OwnSessions> sessions_;
  int pid_{0};
  std::unordered_map<std::string, std::string> statements_;
  bool healthy_{true};
};

// ---------------------------------------------------------------------------
// Dialect

std::string cast_for(ColumnType type) {
  switch (type) {
    case ColumnType::integer: return "::bigint";
    case ColumnType::json: return "::jsonb";
    case ColumnType::text: break;
  }
  return "";
}

sql::Dialect postgres_dialect() {
  sql::Dialect d;
  d.name = "postgresql";
  d.id_column = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY";
  d.json_type = "JSONB";
  d.for_update = " FOR UPDATE";
  d.skip_locked = " FOR UPDATE SKIP LOCKED";
  // The rows go through unnest(ARRAY(...)): the planner cannot see into a
  // JSON parameter and takes jsonb_array_elements for 100 rows, and 100 index
  // probes looked dearer to it than scanning tasker_steps or tasker_step_edges
  // while those held up to some 20,000 rows, so a one-step batch scanned the
  // table in most statements of a transaction. unnest of an array it cannot
  // see is taken for 10 rows, and the plans probe the indexes (given
  // statistics; docs/performance.md, "Engine on PostgreSQL", measures it).
  // JSON columns travel as JSON strings holding JSON text, hence (v->>i)::jsonb.
  d.json_rows = [](int param, const std::vector<std::pair<std::string, ColumnType>>& columns,
                   const std::string& alias) {
    std::string select;
    for (std::size_t i = 0; i < columns.size(); ++i)
      select += fmt::format("{}(r.v->>{}){} AS {}", i ? ", " : "", i, cast_for(columns[i].second), columns[i].first);
    return fmt::format("(SELECT {} FROM unnest(ARRAY(SELECT jsonb_array_elements(${}::jsonb))) AS r(v)) AS {}", select,
                       param, alias);
  };
  d.in_list = [](const std::string& column, int param, ColumnType type) {
    return fmt::format("{} = ANY(ARRAY(SELECT (e){} FROM jsonb_array_elements_text(${}::jsonb) AS t(e)))", column,
                       cast_for(type), param);
  };
  return d;
}

// ---------------------------------------------------------------------------
// LISTEN

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& conn, const std::string& channel,
           const std::function<void(const std::string&)>& callback, const OwnSessions& own)
      : pqxx::notification_receiver(conn, channel), callback_(callback), own_(own) {}
  void operator()(const std::string& payload, int backend_pid) override {
    if (own_.contains(backend_pid)) {
      detail::log().trace("ignoring a NOTIFY from this store's own session {}", backend_pid);
      return;
    }
    callback_(payload);
  }

 private:
  const std::function<void(const std::string&)>& callback_;
  const OwnSessions& own_;
};

/// The listener's own connection; the receiver is destroyed first.
struct Listener {
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<LogNotices> notices;
  std::unique_ptr<Receiver> receiver;
  ~Listener() {
    receiver.reset();
    notices.reset();
  }
};

// ---------------------------------------------------------------------------
// Backend

class PostgresBackend final : public sql::Backend {
 public:
  PostgresBackend(Target target, const StoreOptions& options)
      : target_(std::move(target)), options_(options), dialect_(postgres_dialect()) {
    const std::string scope = target_.schema.empty() ? std::string{} : target_.schema;
    // Advisory lock keys are database-wide: one per schema.
    lock_key_ = static_cast<std::int64_t>(fnv1a("tasker.migrations:" + scope));
    // A channel per schema, a plain lower-case identifier of at most 63 bytes.
    channel_ = "tasker_work";
    if (!scope.empty()) {
      std::string safe;
      for (char c : scope) {
        auto u = static_cast<unsigned char>(c);
        safe += std::isalnum(u) || c == '_' ? static_cast<char>(std::tolower(u)) : '_';
      }
      if (safe == scope && safe.size() <= 63 - 12)
        channel_ += "_" + safe;
      else
        channel_ += fmt::format("_{}_{:016x}", safe.substr(0, 30), fnv1a(scope));
    }
  }

  ~PostgresBackend() override { stop_listening(); }

  const sql::Dialect& dialect() const override { return dialect_; }
  std::string name() const override { return "postgresql"; }
  std::string describe() const override { return target_.masked; }
  std::unique_ptr<sql::Connection> connect() override {
    return std::make_unique<PostgresConnection>(target_, sessions_);
  }
  int pool_size() const override { return std::max(options_.pool_size, 1); }

  void lock_migrations(sql::Connection& connection) override {
    // Lock first: concurrent CREATE SCHEMA IF NOT EXISTS can still collide.
    Param key{lock_key_};
    connection.query("SELECT pg_advisory_lock(CAST($1 AS BIGINT))", {&key, 1});
    try {
      if (!target_.schema.empty())
        connection.execute_script("CREATE SCHEMA IF NOT EXISTS " + quote_ident(target_.schema));
    } catch (...) {
      unlock_migrations(connection);
      throw;
    }
  }

  void unlock_migrations(sql::Connection& connection) noexcept override {
    try {
      Param key{lock_key_};
      connection.query("SELECT pg_advisory_unlock(CAST($1 AS BIGINT))", {&key, 1});
    } catch (const std::exception& e) {
      // A broken connection ends its session, which releases the lock.
      detail::log().debug("releasing the migration lock on {}: {}", target_.where, e.what());
    }
  }

  void notify_in_transaction(sql::Connection& connection, const std::string& payload) override {
    std::vector<Param> p{channel_, payload};
    connection.query("SELECT pg_notify($1, $2)", p);
  }

  void listen(std::function<void(const std::string&)> callback) override {
    if (thread_.joinable()) return;
    callback_ = std::move(callback);
    stop_ = false;
    // Listen before returning, so that a commit that follows open_store is not
    // missed; when the server is unreachable now, the thread keeps trying.
    std::unique_ptr<Listener> first;
    try {
      first = open_listener();
    } catch (const std::exception& e) {
      detail::log().warn("cannot LISTEN on {} yet ({}); retrying in the background", target_.where, e.what());
    }
    thread_ = std::thread([this, l = std::move(first)]() mutable { listen_loop(std::move(l)); });
  }

  void stop_listening() noexcept override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    stopped_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::unique_ptr<Listener> open_listener() {
    auto l = std::make_unique<Listener>();
    l->conn = open_connection(target_);
    l->notices = std::make_unique<LogNotices>(*l->conn);
    l->receiver = std::make_unique<Receiver>(*l->conn, channel_, callback_, *sessions_);  // runs LISTEN
    return l;
  }

  /// Sleep up to `d`; false when asked to stop meanwhile.
  bool pause(std::chrono::milliseconds d) {
    std::unique_lock lock(mutex_);
    return !stopped_.wait_for(lock, d, [&] { return stop_.load(); });
  }

  void listen_loop(std::unique_ptr<Listener> listener) {
    std::chrono::milliseconds backoff{100};
    bool reported = false;
    while (!stop_) {
      if (!listener) {
        try {
          listener = open_listener();
          detail::log().info("LISTEN on {} (channel {}) re-established", target_.where, channel_);
          backoff = std::chrono::milliseconds{100};
          reported = false;
          // Notifications sent while no connection listened are lost: look for work once.
          safe_callback("");
        } catch (const std::exception& e) {
          if (!reported) detail::log().warn("cannot LISTEN on {}: {}; retrying", target_.where, e.what());
          reported = true;
          if (!pause(backoff)) break;
          backoff = std::min(backoff * 2, std::chrono::milliseconds{5'000});
          continue;
        }
      }
      try {
        listener->conn->await_notification(0, 200'000);
        // libpqxx reports a connection closed by the server only once; afterwards it just returns.
        if (!listener->conn->is_open()) throw pqxx::broken_connection("the server closed the connection");
      } catch (const std::exception& e) {
        if (stop_) break;
        detail::log().warn("lost the LISTEN connection to {} ({}); reconnecting", target_.where, one_line(e.what()));
        listener.reset();
        if (!pause(std::chrono::milliseconds{50})) break;
      }
    }
    listener.reset();
  }

  void safe_callback(const std::string& payload) {
    try {
      if (callback_) callback_(payload);
    } catch (const std::exception& e) {
      detail::log().warn("a work-available callback threw: {}", e.what());
    }
  }

  Target target_;
  StoreOptions options_;
  sql::Dialect dialect_;
  std::int64_t lock_key_{0};
  std::string channel_;
  std::shared_ptr<OwnSessions> sessions_ = std::make_shared<OwnSessions>();

  std::function<void(const std::string&)> callback_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable stopped_;
  std::atomic<bool> stop_{false};
};

}  // namespace

std::unique_ptr<sql::Backend> make_postgres_backend(const std::string& url, const StoreOptions& options) {
  return std::make_unique<PostgresBackend>(parse_url(url), options);
}

}  // namespace tasker::detail
