// The `retention` section: ages by state, per-namespace overrides, `never`,
// the worker's switch; bad keys, ages and active states are errors naming the
// key and where it is. And what a policy stands for as purge selections.
#include <doctest/doctest.h>

#include <string>

#include "tasker/config.hpp"
#include "tasker/errors.hpp"
#include "tasker/retention.hpp"
#include "tasker/worker.hpp"

using std::chrono::hours;
using tasker::Config;
using tasker::TaskState;

namespace {
/// The message of the ConfigurationError `yaml` raises; fails the test when it raises none.
std::string error(const std::string& yaml) {
  try {
    (void)Config::from_yaml(yaml, "file.yaml", "development");
  } catch (const tasker::ConfigurationError& e) {
    return e.what();
  }
  FAIL("no ConfigurationError for:\n" << yaml);
  return "";
}
}  // namespace

TEST_CASE("config: retention by state, per namespace, applied by workers unless turned off") {
  const Config c = Config::from_yaml(R"(retention:
  complete: 7d
  error: 30d
  namespaces:
    billing: {error: 90d, complete: never}
  interval: 5m
  batch_size: 50
  pause_ms: 1000
worker:
  retention: false
)",
                                     "file.yaml", "development");
  const auto& p = c.retention.policy;
  CHECK(p.ages.at(TaskState::complete) == hours{7 * 24});
  CHECK(p.ages.at(TaskState::error) == hours{30 * 24});
  CHECK_FALSE(p.ages.count(TaskState::cancelled));
  CHECK(p.namespaces.at("billing").at(TaskState::error) == hours{90 * 24});
  CHECK_FALSE(p.namespaces.at("billing").at(TaskState::complete).has_value());
  CHECK(c.retention.interval_ms == 300'000);
  CHECK(c.retention.batch_size == 50);
  CHECK(c.retention.pause_ms == 1000);
  const auto o = tasker::WorkerOptions::from(c);
  CHECK_FALSE(o.apply_retention);
  CHECK(o.retention_batch_size == 50);
  CHECK(Config::from_yaml("log_level: info\n", "f", "development").retention.policy.empty());

  // billing keeps its completed tasks and its errors 90 days; everyone else's errors 30.
  const tasker::TimePoint now{std::chrono::milliseconds{1'767'225'600'000}};
  const auto selections = tasker::selections_of(p, now);
  REQUIRE(selections.size() == 3);
  CHECK(selections[0].state == TaskState::complete);
  CHECK(selections[0].excluded_namespaces == std::vector<std::string>{"billing"});
  CHECK(selections[1].namespace_name == "billing");
  CHECK(selections[1].finished_before == now - hours{90 * 24});
  CHECK(selections[2].excluded_namespaces == std::vector<std::string>{"billing"});
}

TEST_CASE("config: bad retention settings name the key, the place and what to write") {
  CHECK(error("retention:\n  complete: 7 days\n").find("retention.complete") != std::string::npos);
  CHECK(error("retention:\n  complete: -1d\n").find("or `never`") != std::string::npos);
  CHECK(error("retention:\n  pending: 1d\n").find("active and never purged") != std::string::npos);
  CHECK(error("retention:\n  completed: 1d\n").find("file.yaml:2:3") != std::string::npos);
  CHECK(error("retention:\n  namespaces:\n    billing: {running: 1d}\n").find("retention.namespaces.billing.running") !=
        std::string::npos);
  CHECK(error("retention: 7d\n").find("must be a mapping") != std::string::npos);
  CHECK(error("retention:\n  interval: 10ms\n").find("at least 1s") != std::string::npos);
  CHECK(error("retention:\n  pause_ms: 2m\n").find("retention.pause_ms") != std::string::npos);
}

TEST_CASE("config: the dlq section's thresholds reach workers and clients: zero, negative and bad ones are refused") {
  const Config c = Config::from_yaml(R"(dlq:
  interval: 5s
  detect_staleness: false
  staleness:
    enqueued: 2h
    in_progress: 90s
worker:
  dead_letters: false
)",
                                     "file.yaml", "development");
  CHECK(c.dlq.staleness.enqueued == hours{2});
  CHECK(c.dlq.staleness.in_progress == std::chrono::seconds{90});
  CHECK(c.dlq.staleness.waiting_for_retry == std::chrono::minutes{30});  // the default
  const auto o = tasker::WorkerOptions::from(c);
  CHECK_FALSE(o.dead_letters);
  CHECK_FALSE(o.detect_staleness);
  CHECK(o.dead_letter_interval == std::chrono::seconds{5});
  CHECK(o.staleness.enqueued == hours{2});

  for (const char* bad : {"0", "-5m", "0s", "5 minutes"}) {
    const std::string message = error(std::string("dlq:\n  staleness:\n    in_progress: ") + bad + "\n");
    CHECK(message.find("dlq.staleness.in_progress") != std::string::npos);
    CHECK(message.find("at least 1s") != std::string::npos);
  }
  CHECK(error("dlq:\n  staleness:\n    running: 5m\n").find("dlq.staleness.running") != std::string::npos);
  CHECK(error("dlq:\n  interval: 10ms\n").find("dlq.interval") != std::string::npos);
}
