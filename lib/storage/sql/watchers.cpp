#include "storage/sql/watchers.hpp"

#include "base/log.hpp"
#include "storage/sql/values.hpp"
#include "tasker/task.hpp"

namespace tasker::detail::sql {

std::shared_ptr<void> Watchers::watch(const std::string& task_uuid, TimePoint until, TimePoint now) {
  const std::string watcher = new_uuid();
  {
    std::lock_guard lock(mutex_);
    if (runner_ == nullptr) return nullptr;
    std::vector<Param> p{task_uuid, watcher, ms(until), ms(now)};
    runner_->run(Access::statement, [&](Connection& c) { (void)c.query(add_sql_, p); });
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
    runner_->run(Access::statement, [&](Connection& c) { (void)c.query(remove_sql_, p); });
  } catch (const std::exception& e) {
    // The row expires on its own; until then a finished task is announced once more.
    detail::log().debug("could not remove the watch of task {}: {}", task_uuid, e.what());
  }
}

std::vector<std::string> watched_tasks(Connection& c, const Statements& sql, const std::vector<std::string>& finished,
                                       TimePoint now) {
  if (finished.empty()) return {};
  std::vector<Param> p{text_list(finished), ms(now)};
  Rows r = c.query(sql.watched_tasks, p);
  std::vector<std::string> out;
  out.reserve(r.size());
  for (std::size_t i = 0; i < r.size(); ++i) out.push_back(r.text(i, 0));
  return out;
}

}  // namespace tasker::detail::sql
