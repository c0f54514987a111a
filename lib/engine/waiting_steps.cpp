// Signal and sleep steps in the worker (docs/architecture.md, "Waiting
// steps"): every worker claims them (their callables are in its WorkFilter)
// and handles them itself, on the coordinator, with no handler thread: it
// works out when the step wakes and hands it to the store to wait
// (Store::suspend), holding no worker and no lease. A wake pass completes or
// fails the waiting steps whose time came (Store::wake_due).
#include <fmt/format.h>

#include <algorithm>

#include "base/log.hpp"
#include "engine/worker_impl.hpp"
#include "tasker/events.hpp"

namespace tasker {

namespace {

/// Steps woken per transaction of a wake pass, and transactions per pass.
constexpr int kWakeBatch = 100;
constexpr int kWakeBatchesPerPass = 10;

/// The value at `path` (`context.a.b` or `<dependency>.<field>...`) of a claimed sleep step.
const json* value_at(const ClaimedStep& step, const std::string& path) {
  std::size_t at = path.find('.');
  const std::string head = path.substr(0, at);
  const json* v = nullptr;
  if (head == "context") {
    v = &step.context;
  } else {
    auto it = step.dependency_results.find(head);
    if (it == step.dependency_results.end()) return nullptr;
    v = &*it;
  }
  while (at != std::string::npos) {
    const std::size_t next = path.find('.', at + 1);
    const std::string key = path.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
    if (!v->is_object() || !v->contains(key)) return nullptr;
    v = &v->at(key);
    at = next;
  }
  return v;
}

/// When a claimed sleep step wakes; a PermanentError naming path and value when it cannot be told.
TimePoint sleep_until(const ClaimedStep& step, TimePoint now) {
  const json& init = step.initialization;
  if (init.contains("seconds")) return now + std::chrono::seconds{init.at("seconds").get<long long>()};
  const std::string path = init.value("until", "");
  const json* v = value_at(step, path);
  if (!v)
    throw PermanentError(fmt::format("sleep step `{}` sleeps until `{}`, which is not there", step.step_name, path),
                         "sleep_until_invalid");
  if (v->is_string())
    if (auto t = parse_time(v->get<std::string>())) return *t;
  std::string shown = v->dump();
  if (shown.size() > 200) shown = shown.substr(0, 200) + "...";
  throw PermanentError(fmt::format("sleep step `{}` sleeps until `{}`, which is {}: not an RFC 3339 time "
                                   "(e.g. \"2026-12-07T18:00:00Z\")",
                                   step.step_name, path, shown),
                       "sleep_until_invalid");
}

}  // namespace

std::optional<TimePoint> Worker::Impl::wait_steps(std::vector<ClaimedStep>& claimed, TimePoint t) {
  std::vector<Suspension> waits;
  std::vector<StepOutcome> at_once;
  std::optional<TimePoint> earliest;
  auto remember = [&](TimePoint at) { earliest = earliest ? std::min(*earliest, at) : at; };
  std::erase_if(claimed, [&](const ClaimedStep& step) {
    const bool signal = step.callable == kSignalCallable;
    if (!signal && step.callable != kSleepCallable) return false;
    Suspension w{step.step_id, step.claim_token, std::nullopt, {}};
    if (signal) {
      const SignalSpec spec = signal_spec_from_json(step.initialization, step.step_name);
      w.signal = spec.name;
      if (spec.timeout_seconds) w.wake_at = t + std::chrono::seconds{*spec.timeout_seconds};
    } else {
      StepOutcome o;
      o.step_id = step.step_id;
      o.claim_token = step.claim_token;
      try {
        const TimePoint until = sleep_until(step, t);
        if (until > t) {
          w.wake_at = until;
        } else {  // a time in the past: done at once
          o.result = {{"slept_until", format_time(until)}};
          at_once.push_back(std::move(o));
          return true;
        }
      } catch (const PermanentError& e) {
        o.kind = StepOutcome::Kind::failure;
        o.failure = {e.what(), e.error_type(), false, json::object()};
        at_once.push_back(std::move(o));
        return true;
      }
    }
    if (w.wake_at) remember(*w.wake_at);
    waits.push_back(std::move(w));
    return true;
  });
  if (!at_once.empty()) {
    // As a handler thread would: the next round records them with the rest.
    std::lock_guard lock(shared_->mutex);
    for (auto& o : at_once) {
      in_flight_[{o.step_id, o.claim_token}] =
          detail::Flight{t + std::chrono::hours{24}, std::make_shared<std::atomic<bool>>(false), false};
      shared_->outcomes.push_back(std::move(o));
    }
  }
  if (waits.empty()) return earliest;
  try {
    SuspendResult r = store_->suspend(waits, t);
    if (events_) events_->publish(r.events);
  } catch (const StorageError& e) {
    // The steps stay claimed under a lease nobody renews: when it expires they
    // are retried (worker_lost) and claimed again, by this worker or another.
    detail::log().warn(
        "worker {}: {} signal or sleep steps could not begin to wait ({}); they are claimed again "
        "once their lease expires",
        options_.worker_id, waits.size(), e.what());
  }
  return earliest;
}

bool Worker::Impl::wake_pass(TimePoint t) {
  try {
    for (int i = 0; i < kWakeBatchesPerPass; ++i) {
      WakeResult r = store_->wake_due(kWakeBatch, t);
      if (events_) events_->publish(r.events);
      if (r.woken < static_cast<std::size_t>(kWakeBatch)) return true;
    }
    return false;  // more are due: the next round goes on
  } catch (const StorageError& e) {
    // Not retried at once (a database that fails would be asked every round):
    // the next reclaim pass wakes them.
    detail::log().warn("worker {}: waking waiting steps failed ({}); trying again at the next reclaim pass",
                       options_.worker_id, e.what());
    return true;
  }
}

}  // namespace tasker
