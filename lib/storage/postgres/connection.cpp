// PostgreSQL connections (connection.hpp), libpqxx 6.4 API only: statements
// prepared once per connection, transactions, and errors classified so that
// the shared store repeats only what certainly did not commit.
#include "storage/postgres/connection.hpp"

#include <fmt/format.h>

#include <cctype>
#include <exception>

#include "tasker/errors.hpp"

namespace tasker::detail::postgres {

namespace {

using sql::Param;
using sql::Rows;

}  // namespace

std::string quote_ident(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

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

namespace {

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

}  // namespace

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

namespace {

class PostgresConnection final : public sql::Connection {
 public:
  PostgresConnection(const Target& target, std::shared_ptr<OwnSessions> sessions)
      : target_(target), conn_(open_connection(target)), sessions_(std::move(sessions)) {
    notices_ = std::make_unique<LogNotices>(*conn_);
    // jit off: every statement here touches a handful of rows, but a plan's
    // estimate can pass jit_above_cost (a never-run branch counted with a
    // million rows, tables without statistics), and compiling it then costs
    // half a second per call: a 10,000-step fan-out ran 10 times slower.
    std::string setup = "SET client_min_messages TO warning; SET jit TO off";
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

  Rows query(const std::string& sql, std::span<const Param> params) override { return run(sql, params, false); }

  Rows call(const std::string& sql, std::span<const Param> params) override {
    if (work_) throw StorageError("internal: call() inside a PostgreSQL transaction");
    return run(sql, params, true);
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
  /// Run a prepared statement, in the open transaction or else on its own
  /// (`autocommit`: it writes, and commits when it ends).
  Rows run(const std::string& sql, std::span<const Param> params, bool autocommit) {
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
      translate(sql, false, autocommit);
    }
  }

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
  /// `committing`: the statement is the COMMIT of a transaction that wrote;
  /// `autocommit`: a writing statement that commits itself (call()), in doubt
  /// only when the connection broke (a server error means it rolled back).
  [[noreturn]] void translate(const std::string& sql, bool committing, bool autocommit = false) {
    const std::string where = fmt::format("PostgreSQL at {}", target_.where);
    // A connection lost now may have lost the answer to a commit.
    const bool may_have_committed = committing || autocommit;
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
      if (may_have_committed)
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
      const std::string& state = e.sqlstate();
      if (fatal_state(state)) healthy_ = false;
      check_open();
      const bool retry = (retryable_state(state) || !healthy_) && !committing;
      if (may_have_committed && !healthy_)
        throw in_doubt(fmt::format("the connection broke while committing ({})", server_message(e.what())));
      sql::throw_storage_error(
          fmt::format("{}: {}{} in `{}`{}", where, server_message(e.what()),
                      state.empty() ? "" : " (SQLSTATE " + state + ")", first_line(sql), retry ? "; retried" : ""),
          retry);
    } catch (const StorageError&) {
      throw;
    } catch (const std::exception& e) {
      check_open();
      if (may_have_committed && !healthy_) throw in_doubt(fmt::format("{} while committing", one_line(e.what())));
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

}  // namespace

std::unique_ptr<sql::Connection> make_connection(const Target& target, std::shared_ptr<OwnSessions> sessions) {
  return std::make_unique<PostgresConnection>(target, std::move(sessions));
}

}  // namespace tasker::detail::postgres
