// Attempts on persistent processes. An attempt takes a process (an idle one
// that still looks usable, or a new one once it says `ready`), sends one
// attempt line, answers the requests that come back, and ends with the first
// result or failure that carries its id. Whatever else happens ends the
// process, never the worker: a line that breaks the protocol, a death, a
// timeout or cancel (the process is stopped as a per-attempt command's group
// would be), too much output. Only the attempt in flight fails; the next one
// finds another process, after a pause that grows while processes keep dying.
#include "engine/process_pool.hpp"

#include <fmt/format.h>
#include <sys/wait.h>

#include <cstring>
#include <map>
#include <thread>

#include "engine/command_output.hpp"
#include "engine/command_requests.hpp"
#include "engine/command_spec.hpp"
#include "engine/persistent_protocol.hpp"
#include "tasker/errors.hpp"

namespace tasker::detail {

namespace {

constexpr std::chrono::milliseconds kTick{50};  ///< how often a waiting attempt looks at its deadline and cancel flag

[[noreturn]] void fail_as(const CommandSpec& spec, const CommandExit& exit) {
  (void)command_result(spec, exit);  // throws for a timeout, a cancel and too much output
  throw std::logic_error("command_result returned for a stopped attempt");
}

[[noreturn]] void fail_too_large(const CommandSpec& spec, std::string err) {
  CommandExit exit;
  exit.output_too_large = true;
  exit.err = std::move(err);
  fail_as(spec, exit);
}

[[noreturn]] void fail_broken(const CommandSpec& spec, const std::string& what, const std::string& err) {
  const CommandFailureContext failure = failure_context(spec, err);
  fail_with<RetryableError>(
      "invalid_output",
      failure.with_stderr(fmt::format("`{}` broke the persistent protocol: {}; the process was stopped and another "
                                      "will be started",
                                      spec.display(), what)),
      failure.context);
}

[[noreturn]] void fail_died(const CommandSpec& spec, int status, const std::string& err, bool before_ready) {
  const CommandFailureContext failure = failure_context(spec, err);
  const char* when = before_ready ? "before it said `ready`" : "during the attempt";
  if (WIFSIGNALED(status))
    fail_with<RetryableError>("command_crashed",
                              failure.with_stderr(fmt::format("`{}` was killed by signal {} ({}) {}", spec.display(),
                                                              WTERMSIG(status), strsignal(WTERMSIG(status)), when)),
                              failure.context);
  fail_with<RetryableError>(
      "command_failed",
      failure.with_stderr(fmt::format("`{}` exited with code {} {}; a persistent process runs until its stdin closes",
                                      spec.display(), WIFEXITED(status) ? WEXITSTATUS(status) : -1, when)),
      failure.context);
}

}  // namespace

std::chrono::milliseconds ProcessPool::restart_pause(int failures) {
  if (failures <= 1) return std::chrono::milliseconds{0};
  constexpr std::chrono::milliseconds kLongest{10'000};
  std::chrono::milliseconds pause{200};
  for (int i = 2; i < failures && pause < kLongest; ++i) pause *= 2;
  return std::min(pause, kLongest);
}

std::shared_ptr<ProcessPool> ProcessPool::shared_for(const CommandSpec& spec) {
  static std::mutex mutex;
  static std::map<std::string, std::weak_ptr<ProcessPool>> pools;
  const json key = {spec.argv,
                    spec.shell,
                    spec.working_directory.string(),
                    spec.environment,
                    spec.kill_grace.count(),
                    spec.max_output_bytes,
                    spec.limits.max_depth,
                    spec.limits.max_bytes};
  std::lock_guard lock(mutex);
  for (auto it = pools.begin(); it != pools.end();) it = it->second.expired() ? pools.erase(it) : std::next(it);
  auto& slot = pools[key.dump(-1, ' ', false, json::error_handler_t::replace)];
  if (auto pool = slot.lock()) return pool;
  CommandSpec own = spec;
  own.callable.clear();
  auto pool = std::make_shared<ProcessPool>(std::move(own));
  slot = pool;
  return pool;
}

ProcessPool::~ProcessPool() {
  for (auto& p : idle_) p->close_input();
  const auto until = std::chrono::steady_clock::now() + spec_.kill_grace;
  for (auto& p : idle_)
    while (std::chrono::steady_clock::now() < until && p->pump(std::chrono::milliseconds{20}))
      while (p->next_line()) {
      }
  idle_.clear();  // each kills what is left of its group
}

void ProcessPool::failed() {
  std::lock_guard lock(mutex_);
  ++failures_;
  next_start_ = std::chrono::steady_clock::now() + restart_pause(failures_);
}

void ProcessPool::served() {
  std::lock_guard lock(mutex_);
  failures_ = 0;
}

void ProcessPool::release(Process p) {
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(p));
}

void ProcessPool::check_time(StepContext& ctx, Process& p, const std::string& err) {
  const bool cancelled = ctx.cancelled();
  if (!cancelled && ctx.clock().now() < ctx.deadline()) return;
  CommandExit exit;
  exit.cancelled = cancelled;
  exit.killed_for_time = !cancelled;
  exit.deadline = ctx.deadline();
  exit.err = err;
  if (p) {
    exit.err += p->take_stderr();
    p->terminate(spec_.kill_grace);
    p.reset();
  }
  fail_as(spec_, exit);
}

ProcessPool::Process ProcessPool::acquire(StepContext& ctx) {
  for (;;) {
    Process p;
    {
      std::lock_guard lock(mutex_);
      if (idle_.empty()) break;
      p = std::move(idle_.back());
      idle_.pop_back();
    }
    if (p->usable_when_idle()) return p;
    failed();  // it died, or wrote on stdout unasked, while idle: no attempt was running on it
  }
  return start(ctx);
}

ProcessPool::Process ProcessPool::start(StepContext& ctx) {
  Process none;
  for (;;) {
    std::chrono::steady_clock::time_point at;
    {
      std::lock_guard lock(mutex_);
      at = next_start_;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= at) break;
    check_time(ctx, none, "");
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(kTick, at - now));
  }
  auto p = std::make_unique<PersistentProcess>(spec_);
  if (const auto& failure = p->failure()) {
    failed();
    fail_with<RetryableError>("command_not_started", not_started_message(spec_, *failure),
                              {{"command", spec_.display()}});
  }
  for (;;) {
    check_time(ctx, p, "");
    const bool open = p->pump(kTick);
    if (p->too_much_output()) {
      failed();
      fail_too_large(spec_, p->take_stderr());
    }
    if (auto line = p->next_line()) {
      try {
        const ProcessMessage m = parse_process_line(*line, spec_.limits, spec_.max_output_bytes);
        if (m.type != ProcessMessage::Type::ready)
          throw ProtocolViolation("its first line must be {\"type\": \"ready\", \"protocol\": 1}");
        if (m.body != kPersistentProtocolVersion)
          throw ProtocolViolation(
              fmt::format("it speaks protocol {} and this worker speaks {}; use a version of it "
                          "that speaks {}",
                          m.body.dump(), kPersistentProtocolVersion, kPersistentProtocolVersion));
      } catch (const ProtocolViolation& v) {
        failed();
        fail_broken(spec_, v.what(), p->take_stderr());
      }
      return p;
    }
    if (!open) {
      std::string err = p->take_stderr();
      const int status = p->wait();
      failed();
      fail_died(spec_, status, err, true);
    }
  }
}

json ProcessPool::run(StepContext& ctx, const std::string& callable) {
  SigpipeBlock no_sigpipe;
  Process p = acquire(ctx);
  const std::int64_t id = p->next_attempt_id();
  p->send(attempt_line(id, callable, command_input(ctx)));
  CommandRequests requests(ctx, spec_.limits);
  std::string err;  // what the process wrote on stderr during this attempt (and its start)
  for (;;) {
    check_time(ctx, p, err);
    const bool open = p->pump(kTick);
    if (p->too_much_output()) {
      failed();
      fail_too_large(spec_, err + p->take_stderr());
    }
    while (auto line = p->next_line()) {
      ProcessMessage m;
      try {
        m = parse_process_line(*line, spec_.limits, spec_.max_output_bytes);
        if (m.type == ProcessMessage::Type::ready) throw ProtocolViolation("it said `ready` again during an attempt");
        if (m.id != id)
          throw ProtocolViolation(
              fmt::format("a message for attempt {} arrived during attempt {}: each message "
                          "carries the id of the attempt it belongs to",
                          m.id, id));
      } catch (const ProtocolViolation& v) {
        failed();
        fail_broken(spec_, v.what(), err + p->take_stderr());
      }
      if (m.type == ProcessMessage::Type::request) {
        p->send(reply_line(id, m.request_id, requests.respond(m.body)));
        continue;
      }
      err += p->take_stderr();
      if (p->has_unread_output()) {
        failed();  // it answered more than once: out of step, so it is stopped; this first answer counts
        p.reset();
      } else {
        served();
        release(std::move(p));
      }
      return answered_outcome(spec_, m, err);
    }
    if (!open) {
      err += p->take_stderr();
      const int status = p->wait();
      failed();
      fail_died(spec_, status, err, false);
    }
  }
}

}  // namespace tasker::detail
