#include "storage/sql/transaction.hpp"

#include <chrono>
#include <thread>

#include "base/log.hpp"
#include "tasker/errors.hpp"

namespace tasker::detail::sql {

Transaction::Transaction(Connection& connection, Access access) : connection_(connection) {
  if (access == Access::statement) return;
  if (access == Access::write)
    connection_.begin();
  else
    connection_.begin_read();
  open_ = true;
}

Transaction::~Transaction() {
  // A broken connection has no transaction left to roll back.
  if (open_ && connection_.healthy()) connection_.rollback();
}

void Transaction::commit() {
  if (!open_) return;
  connection_.commit();  // when COMMIT fails, the destructor rolls back what may remain open
  open_ = false;
}

void Runner::run_erased(Access access, const std::function<void(Connection&)>& body) {
  constexpr int kAttempts = 8;
  for (int attempt = 1;; ++attempt) {
    bool connection_lost = false;
    try {
      auto conn = pool_.acquire();
      try {
        Transaction tx(*conn, access);
        body(*conn);
        tx.commit();
        return;
      } catch (...) {
        connection_lost = !conn->healthy();
        throw;
      }
    } catch (const StorageInDoubtError&) {
      pool_.discard_idle();
      throw;
    } catch (const TransientStorageError& e) {
      if (connection_lost) pool_.discard_idle();
      if (attempt == kAttempts) throw;
      detail::log().debug("retrying a transaction on {} after: {}", backend_name_, e.what());
      // 10, 20, 40, ... 640 ms: about 1.3 s in all, enough to ride out a deadlock or a brief outage.
      std::this_thread::sleep_for(std::chrono::milliseconds(10 << (attempt - 1)));
    } catch (const StorageError&) {
      if (connection_lost) pool_.discard_idle();
      throw;
    }
  }
}

}  // namespace tasker::detail::sql
