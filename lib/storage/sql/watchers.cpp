#include "storage/sql/watchers.hpp"

#include <fmt/format.h>

#include "base/log.hpp"
#include "storage/sql/values.hpp"
#include "tasker/task.hpp"

namespace tasker::detail::sql {

namespace {

// One statement each, idempotent (a repeat after a lost answer changes nothing).
constexpr const char* kAddWatch =
    "WITH expired AS (DELETE FROM tasker_task_watchers WHERE expires_at <= $4) "
    "INSERT INTO tasker_task_watchers (task_id, watcher, expires_at) "
    "SELECT id, $2, $3 FROM tasker_tasks WHERE uuid = $1 ON CONFLICT DO NOTHING";
constexpr const char* kRemoveWatch =
    "DELETE FROM tasker_task_watchers WHERE task_id = (SELECT id FROM tasker_tasks WHERE uuid = $1) "
    "AND watcher = $2";

}  // namespace

std::shared_ptr<void> Watchers::watch(const std::string& task_uuid, TimePoint until, TimePoint now) {
  const std::string watcher = new_uuid();
  {
    std::lock_guard lock(mutex_);
    if (runner_ == nullptr) return nullptr;
    std::vector<Param> p{task_uuid, watcher, ms(until), ms(now)};
    runner_->run(Access::statement, [&](Connection& c) { (void)c.query(kAddWatch, p); });
  }
  return {new int(0), [self = shared_from_this(), task_uuid, watcher](int* token) {
            delete token;
            self->remove(task_uuid, watcher);
          }};
}

void Watchers::close() {
  std::lock_guard lock(mutex_);
  runner_ = nullptr;
}

void Watchers::remove(const std::string& task_uuid, const std::string& watcher) noexcept {
  try {
    std::lock_guard lock(mutex_);
    if (runner_ == nullptr) return;
    std::vector<Param> p{task_uuid, watcher};
    runner_->run(Access::statement, [&](Connection& c) { (void)c.query(kRemoveWatch, p); });
  } catch (const std::exception& e) {
    // The row expires on its own; until then a finished task is announced once more.
    detail::log().debug("could not remove the watch of task {}: {}", task_uuid, e.what());
  }
}

std::vector<std::string> watched_tasks(Connection& c, const Dialect& d, const std::vector<std::string>& finished,
                                       TimePoint now) {
  if (finished.empty()) return {};
  const std::string sql = fmt::format(
      "SELECT t.uuid FROM tasker_tasks t WHERE {} AND EXISTS (SELECT 1 FROM tasker_task_watchers w "
      "WHERE w.task_id = t.id AND w.expires_at > $2)",
      d.in_list("t.uuid", 1, ColumnType::text));
  std::vector<Param> p{text_list(finished), ms(now)};
  Rows r = c.query(sql, p);
  std::vector<std::string> out;
  out.reserve(r.size());
  for (std::size_t i = 0; i < r.size(); ++i) out.push_back(r.text(i, 0));
  return out;
}

}  // namespace tasker::detail::sql
