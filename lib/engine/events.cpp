#include "tasker/events.hpp"
#include "base/log.hpp"

#include <algorithm>

namespace tasker {

namespace {
bool matches(const std::string& pattern, const std::string& name) {
  if (pattern == "*") return true;
  if (!pattern.empty() && pattern.back() == '*')
    return name.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
  return pattern == name;
}
}  // namespace

EventBus::SubscriptionId EventBus::subscribe(std::string pattern, Handler handler) {
  std::lock_guard lock(mutex_);
  SubscriptionId id = next_id_++;
  auto sub = std::make_shared<Subscription>();
  sub->id = id;
  sub->pattern = std::move(pattern);
  sub->handler = std::move(handler);
  subscriptions_.push_back(std::move(sub));
  return id;
}

void EventBus::unsubscribe(SubscriptionId id) {
  std::shared_ptr<Subscription> sub;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(subscriptions_.begin(), subscriptions_.end(), [id](const auto& s) { return s->id == id; });
    if (it == subscriptions_.end()) return;
    sub = *it;
    subscriptions_.erase(it);
  }
  // Waits for a delivery in progress on another thread; re-entrant from the handler itself.
  std::lock_guard delivering(sub->delivering);
  sub->active = false;
}

void EventBus::publish(const LifecycleEvent& event) const noexcept {
  std::vector<std::shared_ptr<Subscription>> targets;
  {
    std::lock_guard lock(mutex_);
    for (const auto& s : subscriptions_)
      if (matches(s->pattern, event.name)) targets.push_back(s);
  }
  // Handlers run outside the bus lock, so one may (un)subscribe from its callback.
  for (const auto& s : targets) {
    std::lock_guard delivering(s->delivering);
    if (!s->active) continue;
    try {
      s->handler(event);
    } catch (const std::exception& e) {
      detail::log().warn("event subscriber for `{}` threw on {}: {}", s->pattern, event.name, e.what());
      std::lock_guard lock(mutex_);
      ++failures_;
    } catch (...) {
      detail::log().warn("event subscriber for `{}` threw on {}", s->pattern, event.name);
      std::lock_guard lock(mutex_);
      ++failures_;
    }
  }
}

void EventBus::publish(const std::vector<LifecycleEvent>& events) const noexcept {
  for (const auto& e : events) publish(e);
}

std::size_t EventBus::subscriber_failures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}

}  // namespace tasker
