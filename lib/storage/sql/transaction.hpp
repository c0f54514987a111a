#pragma once
// How the store's bodies run against the database: a RAII transaction guard,
// and a runner that repeats a body while the database says its attempt
// certainly did not commit.
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "storage/sql/connection.hpp"
#include "storage/sql/pool.hpp"

namespace tasker::detail::sql {

/// How a body runs: one statement on a plain connection (no transaction);
/// several statements that must agree (a task's row and its step counts) in a
/// read-only snapshot; or a read-write transaction.
enum class Access { statement, snapshot, write };

/// Begins a transaction (none for Access::statement) and rolls it back on
/// destruction unless commit() was called; the destructor never throws
/// (SQLiteCpp's Transaction). Not copyable; one per connection at a time.
class Transaction {
 public:
  Transaction(Connection& connection, Access access);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Connection& connection_;
  bool open_{false};
};

/// Runs bodies on pooled connections. Thread-safe.
class Runner {
 public:
  Runner(Pool& pool, std::string backend_name) : pool_(pool), backend_name_(std::move(backend_name)) {}

  /// Run `body(Connection&)` as `access` says and return its result. A
  /// TransientStorageError repeats the whole body (up to 8 attempts, backing
  /// off 10 ms to 640 ms); any other error propagates.
  template <typename F>
  auto run(Access access, F&& body) -> decltype(body(std::declval<Connection&>())) {
    using Result = decltype(body(std::declval<Connection&>()));
    if constexpr (std::is_void_v<Result>) {
      run_erased(access, [&](Connection& c) { body(c); });
    } else {
      std::optional<Result> out;
      run_erased(access, [&](Connection& c) { out.emplace(body(c)); });
      return std::move(*out);
    }
  }

 private:
  void run_erased(Access access, const std::function<void(Connection&)>& body);

  Pool& pool_;
  std::string backend_name_;
};

}  // namespace tasker::detail::sql
