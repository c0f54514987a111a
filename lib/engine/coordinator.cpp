// The worker's coordinator (Worker::Impl, worker_impl.hpp): one thread does all
// database work in rounds: record results and claim new steps in one
// transaction, renew leases, fail expired leases, enforce timeouts, serve the
// handlers' requests, then sleep on the worker's Clock until something happens.
#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "base/log.hpp"
#include "engine/worker_impl.hpp"
#include "tasker/events.hpp"

namespace tasker {

namespace {

using detail::CheckpointRequest;
using detail::Flight;
using detail::FlightKey;
using detail::Job;
using detail::LoopState;
using detail::Next;
using detail::Round;
using detail::Shared;
using std::chrono::milliseconds;

}  // namespace

void Worker::Impl::loop(bool until_idle) {
  // However the loop ends, a handler waiting on a request is answered.
  struct StopServing {
    Shared& shared;
    ~StopServing() {
      std::lock_guard lock(shared.mutex);
      shared.serving = false;
      for (auto& c : shared.checkpoints) c.saved.set_value(false);
      for (auto& l : shared.lookups) l.result.set_value(std::nullopt);
      shared.checkpoints.clear();
      shared.lookups.clear();
    }
  } stop_serving{*shared_};
  {
    std::lock_guard lock(shared_->mutex);
    shared_->serving = true;
  }
  const TimePoint start = now();
  LoopState st{start + options_.heartbeat_interval, start, start, std::nullopt, std::nullopt, true, {}};
  for (;;) {
    Round r = begin_round(st);
    if (!exchange(st, r)) {
      requeue_requests(r);
      pause_after_error(st, r);
      continue;
    }
    renew_leases(st, r);
    serve_requests(r);
    switch (next_step(st, r, until_idle)) {
      case Next::exit: return;
      case Next::round: continue;
      case Next::sleep: sleep(st, r); break;
    }
  }
}

Round Worker::Impl::begin_round(LoopState& st) {
  Round r;
  std::vector<StepOutcome> arrived;
  {
    std::lock_guard lock(shared_->mutex);
    arrived.swap(shared_->outcomes);
    r.heartbeats.swap(shared_->heartbeats);
    r.checkpoints.swap(shared_->checkpoints);
    r.lookups.swap(shared_->lookups);
    r.signal = std::exchange(shared_->work_signal, false);
    r.stop = shared_->stop_requested;
  }
  r.t = now();
  r.batch = std::move(st.unsent);
  st.unsent.clear();
  for (auto& o : arrived) {
    auto it = in_flight_.find({o.step_id, o.claim_token});
    const bool decided = it != in_flight_.end() && it->second.decided;
    if (it != in_flight_.end()) in_flight_.erase(it);
    if (decided) {  // timed out or released earlier: this late result is not recorded
      count_discarded(1);
      continue;
    }
    count_outcome(o);
    r.batch.push_back(std::move(o));
  }
  enforce_deadlines(r.t, r.batch);
  if (r.stop && !st.stop_deadline) st.stop_deadline = r.t + options_.stop_grace;
  if (r.stop && r.t >= *st.stop_deadline) release_all(r.batch);
  r.free = options_.concurrency - static_cast<int>(in_flight_.size());
  return r;
}

bool Worker::Impl::exchange(LoopState& st, Round& r) {
  const bool due = st.due_at && r.t >= *st.due_at;
  const bool reclaim = !r.stop && r.t >= st.next_reclaim;
  // A reclaim pass also claims: the steps it fails as worker_lost become
  // waiting_for_retry without any NOTIFY, so in event_driven mode nobody
  // else would look for them. It also makes the pass a slow safety-net
  // poll (every reclaim_interval) for retries another process scheduled.
  const bool want_claim =
      !r.stop && r.free > 0 &&
      (st.more || r.signal || !r.batch.empty() || (polling() && r.t >= st.next_poll) || due || reclaim);
  if (r.batch.empty() && !want_claim && !reclaim) {
    r.claimed_nothing = !r.stop && r.free > 0;
    return true;
  }
  if (!r.stop && (due || reclaim)) {
    // Waiting steps whose time came (a reclaim pass also wakes those another worker suspended).
    // More still due (a pass wakes a bounded number): the next round goes on;
    // else the claim below finds the next due time when it finds nothing.
    if (wake_pass(r.t))
      st.due_at.reset();
    else
      st.due_at = r.t;
  }
  for (auto& o : r.batch)
    if (jitter_ && o.kind == StepOutcome::Kind::failure && !o.jitter_unit) o.jitter_unit = random_jitter_unit();
  ClaimRequest req{options_.worker_id, filter_, want_claim ? std::min(r.free, options_.batch_size) : 0,
                   options_.lease,     reclaim, jitter_};
  try {
    ExchangeResult res = store_->exchange(r.batch, (want_claim || reclaim) ? &req : nullptr, r.t);
    if (st.failures > 0)
      detail::log().info("worker {}: the database answers again, after {} failed tries", options_.worker_id,
                         std::exchange(st.failures, 0));
    publish(res);
    if (reclaim) st.next_reclaim = r.t + options_.reclaim_interval;
    if (want_claim) {
      st.next_poll = r.t + options_.fallback_interval;
      st.more = static_cast<int>(res.claimed.size()) == req.limit;
      r.claimed_nothing = res.claimed.empty();
      if (r.claimed_nothing) st.due_at = store_->next_due(filter_);
    }
    if (auto wake = wait_steps(res.claimed, r.t)) st.due_at = st.due_at ? std::min(*st.due_at, *wake) : *wake;
    dispatch(res.claimed);
    return true;
  } catch (const TransientStorageError& e) {
    keep_unsent(st, r, e, true);
  } catch (const StorageInDoubtError& e) {
    keep_unsent(st, r, e, true);
  } catch (const StorageError& e) {
    // A result the database refuses must not hold back the others.
    r.batch = record_one_by_one(std::move(r.batch), r.t);
    keep_unsent(st, r, e, false);
  } catch (const json::exception& e) {
    // Job::run makes every outcome storable, so this is a second line of
    // defence: an outcome that cannot be serialised fails its own step
    // (recorded one by one) instead of ending the coordinator's loop.
    detail::log().error("worker {}: an outcome could not be serialised ({}); recording the batch step by step",
                        options_.worker_id, e.what());
    st.unsent = record_one_by_one(std::move(r.batch), r.t);
    st.more = false;
  }
  return false;
}

void Worker::Impl::keep_unsent(LoopState& st, Round& r, const StorageError& e, bool transient) {
  ++st.failures;
  st.pause = error_pause(st.failures, transient);
  // Said at the 1st, 2nd, 4th, 8th... error in a row, not five times a second.
  if ((st.failures & (st.failures - 1)) == 0)
    detail::log().warn("worker {}: database error ({} in a row; trying again in {} ms): {}", options_.worker_id,
                       st.failures, st.pause.count(), e.what());
  st.unsent = std::move(r.batch);
  st.more = false;
}

milliseconds Worker::Impl::error_pause(int failures, bool transient) const {
  constexpr milliseconds first{200};
  if (transient) return first;
  const milliseconds longest = std::clamp(options_.lease / 3, first, milliseconds{10'000});
  return std::min(first * (1 << std::clamp(failures - 1, 0, 16)), longest);
}

void Worker::Impl::pause_after_error(const LoopState& st, const Round& r) {
  std::unique_lock lock(shared_->mutex);
  options_.clock->wait_until(shared_->wake, lock, now() + (st.failures > 0 ? st.pause : milliseconds{200}),
                             [&] { return shared_->stop_requested && !r.stop; });
}

std::vector<StepOutcome> Worker::Impl::record_one_by_one(std::vector<StepOutcome> batch, TimePoint t) {
  std::vector<StepOutcome> unsent;
  for (auto& o : batch) {
    std::string refused;
    try {
      publish(store_->exchange({o}, nullptr, t));
      continue;
    } catch (const TransientStorageError&) {
      unsent.push_back(std::move(o));
      continue;
    } catch (const StorageInDoubtError&) {
      unsent.push_back(std::move(o));
      continue;
    } catch (const StorageError& e) {
      if (o.kind != StepOutcome::Kind::success) {
        unsent.push_back(std::move(o));
        continue;
      }
      refused = fmt::format("the database cannot store this step's result: {}", e.what());
    } catch (const json::exception& e) {
      refused = fmt::format("this attempt's outcome cannot be serialised: {}", e.what());
    }
    StepOutcome failed = std::move(o);
    failed.kind = StepOutcome::Kind::failure;
    failed.result = nullptr;
    failed.failure = {valid_utf8(refused), "invalid_result", false, json::object()};
    try {
      publish(store_->exchange({failed}, nullptr, t));
    } catch (const StorageError&) {
      unsent.push_back(std::move(failed));
    } catch (const json::exception& e) {  // cannot happen with the plain failure above; never end the loop for it
      detail::log().error("worker {}: step {} left to its lease: {}", options_.worker_id, failed.step_id, e.what());
    }
  }
  return unsent;
}

void Worker::Impl::renew_leases(LoopState& st, const Round& r) {
  const bool periodic = options_.heartbeat_interval > milliseconds{0} && r.t >= st.next_heartbeat;
  if (periodic) st.next_heartbeat = r.t + options_.heartbeat_interval;
  std::vector<LeaseRef> leases;
  for (const auto& [key, f] : in_flight_) {
    const bool asked = std::find(r.heartbeats.begin(), r.heartbeats.end(), key) != r.heartbeats.end();
    if (!f.decided && (periodic || asked)) leases.push_back({key.first, key.second});
  }
  if (leases.empty()) return;
  try {
    std::vector<std::int64_t> lost = store_->renew_leases(leases, r.t + options_.lease);
    for (auto id : lost)
      for (auto& [key, f] : in_flight_)
        if (key.first == id) f.cancelled->store(true);
  } catch (const StorageError& e) {
    detail::log().warn("worker {}: could not renew leases: {}", options_.worker_id, e.what());
  }
}

void Worker::Impl::serve_requests(Round& r) {
  if (!r.checkpoints.empty()) {
    std::vector<CheckpointSave> saves;
    std::vector<CheckpointRequest> waiting;
    for (auto& c : r.checkpoints) {
      auto it = in_flight_.find(c.key);
      if (it == in_flight_.end() || it->second.decided) {
        c.saved.set_value(false);  // timed out or released: the attempt is over
        continue;
      }
      saves.push_back({c.key.first, c.key.second, c.checkpoint});
      waiting.push_back(std::move(c));
    }
    try {
      std::vector<std::int64_t> lost = store_->save_checkpoints(saves, r.t + options_.lease);
      for (auto& c : waiting) {
        const bool kept = std::find(lost.begin(), lost.end(), c.key.first) == lost.end();
        if (!kept) in_flight_.at(c.key).cancelled->store(true);
        c.saved.set_value(kept);
      }
    } catch (const StorageError& e) {
      detail::log().warn("worker {}: could not save checkpoints, trying again: {}", options_.worker_id, e.what());
      std::lock_guard lock(shared_->mutex);
      for (auto& c : waiting) shared_->checkpoints.push_back(std::move(c));
    }
  }
  for (auto& l : r.lookups) {
    try {
      l.result.set_value(store_->step_result(l.task_uuid, l.step_name));
    } catch (const StorageError&) {
      l.result.set_exception(std::current_exception());
    }
  }
  r.checkpoints.clear();
  r.lookups.clear();
}

void Worker::Impl::requeue_requests(Round& r) {
  std::lock_guard lock(shared_->mutex);
  for (auto& c : r.checkpoints) shared_->checkpoints.push_back(std::move(c));
  for (auto& l : r.lookups) shared_->lookups.push_back(std::move(l));
  for (auto& h : r.heartbeats) shared_->heartbeats.push_back(h);
}

Next Worker::Impl::next_step(const LoopState& st, const Round& r, bool until_idle) {
  const bool settled = in_flight_.empty() && st.unsent.empty();
  if (r.stop && settled) {
    std::lock_guard lock(shared_->mutex);
    return shared_->outcomes.empty() ? Next::exit : Next::round;
  }
  if (until_idle && settled && r.claimed_nothing && !st.more) {
    std::lock_guard lock(shared_->mutex);
    // Nothing running, nothing claimable, no retry scheduled.
    if (shared_->outcomes.empty() && !st.due_at) return Next::exit;
  }
  return st.more && !r.stop && r.free > 0 ? Next::round : Next::sleep;
}

void Worker::Impl::sleep(const LoopState& st, const Round& r) {
  TimePoint wake_at = r.t + (polling() ? options_.fallback_interval : milliseconds{3'600'000});
  if (!in_flight_.empty() && options_.heartbeat_interval > milliseconds{0})
    wake_at = std::min(wake_at, st.next_heartbeat);
  if (!r.stop) wake_at = std::min(wake_at, st.next_reclaim);
  for (const auto& [key, f] : in_flight_)
    if (!f.decided) wake_at = std::min(wake_at, f.deadline);
  if (st.due_at) wake_at = std::min(wake_at, *st.due_at);
  if (st.stop_deadline) wake_at = std::min(wake_at, *st.stop_deadline);
  std::unique_lock lock(shared_->mutex);
  options_.clock->wait_until(shared_->wake, lock, wake_at, [&] {
    return !shared_->outcomes.empty() || shared_->work_signal || shared_->stop_requested != r.stop ||
           shared_->has_requests();
  });
}

void Worker::Impl::publish(ExchangeResult& r) {
  {
    std::lock_guard lock(stats_mutex_);
    stats_.transactions += 1;
    stats_.claimed += r.claimed.size();
    stats_.discarded += r.discarded.size();
    stats_.reclaimed += r.reclaimed;
  }
  if (!events_) return;
  // Subscribers that aggregate per workflow and handler (metrics) need to know
  // which ones a started step belongs to; the claim says it.
  for (auto& e : r.events) {
    if (e.name != events::kStepStarted) continue;
    for (const auto& c : r.claimed)
      if (c.task_uuid == e.task_uuid && c.step_name == e.step_name) {
        e.payload["namespace"] = c.namespace_name;
        e.payload["callable"] = c.callable;
        break;
      }
  }
  events_->publish(r.events);
}

void Worker::Impl::count_outcome(const StepOutcome& o) {
  std::lock_guard lock(stats_mutex_);
  (o.kind == StepOutcome::Kind::success ? stats_.succeeded : stats_.failed) += 1;
}

void Worker::Impl::count_discarded(std::uint64_t n) {
  std::lock_guard lock(stats_mutex_);
  stats_.discarded += n;
}

void Worker::Impl::dispatch(std::vector<ClaimedStep>& claimed) {
  if (claimed.empty()) return;
  {
    std::lock_guard lock(shared_->mutex);
    for (auto& step : claimed) {
      TimePoint deadline = step.claimed_at + std::chrono::seconds{step.timeout_seconds};
      auto flag = std::make_shared<std::atomic<bool>>(false);
      FlightKey key{step.step_id, step.claim_token};
      in_flight_[key] = Flight{deadline, flag, false};
      std::weak_ptr<Shared> weak = shared_;
      StepControls controls{flag,
                            [weak, key] {
                              if (auto s = weak.lock()) s->request_heartbeat(key);
                            },
                            [weak, key](const json& checkpoint) {
                              auto s = weak.lock();
                              return s && s->save_checkpoint(key, checkpoint);
                            },
                            [weak, task = step.task_uuid](const std::string& name) -> std::optional<json> {
                              auto s = weak.lock();
                              return s ? s->step_result(task, name) : std::nullopt;
                            }};
      shared_->jobs.push_back(
          Job{std::move(step), deadline, std::move(controls), handlers_, options_.clock, options_.limits});
    }
  }
  // One thread per job: notify_all woke every idle handler thread for each
  // claim, and with many threads and one job (a chain) they fought for the lock.
  for (std::size_t i = 0; i < claimed.size(); ++i) shared_->jobs_ready.notify_one();
}

void Worker::Impl::enforce_deadlines(TimePoint t, std::vector<StepOutcome>& batch) {
  for (auto& [key, f] : in_flight_) {
    if (f.decided || t < f.deadline) continue;
    StepOutcome o = decide(key, f, StepOutcome::Kind::failure);
    o.failure = {detail::timeout_message(f.deadline), "timeout", true, json::object()};
    count_outcome(o);
    batch.push_back(std::move(o));
  }
}

StepOutcome Worker::Impl::decide(const FlightKey& key, Flight& f, StepOutcome::Kind kind) {
  f.decided = true;
  f.cancelled->store(true);
  StepOutcome o;
  o.step_id = key.first;
  o.claim_token = key.second;
  o.kind = kind;
  return o;
}

void Worker::Impl::release_all(std::vector<StepOutcome>& batch) {
  for (auto& [key, f] : in_flight_)
    if (!f.decided) batch.push_back(decide(key, f, StepOutcome::Kind::release));
  // Decided flights no longer hold the worker back from stopping.
  std::erase_if(in_flight_, [](const auto& entry) { return entry.second.decided; });
}

}  // namespace tasker
