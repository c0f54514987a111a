#pragma once
// Checks over recorded results and transitions, shared by the e2e scenarios.
// The harness is configured from the command line (see main.cpp).
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "handlers.hpp"

namespace e2e {

/// A harness on the configured backend and surface with the project's
/// templates and the suite's own (tests/e2e/templates), every e2e handler
/// registered in the configured handler kind, and (unless told otherwise) its
/// worker started: in this process, or (http surface) as a worker process.
std::unique_ptr<Harness> make_harness(bool start_worker = true,
                                      tasker::testing::HarnessOptions options = tasker::testing::HarnessOptions{});

/// Poll `condition` every 10 ms until it holds; fails the test naming `what`
/// after `limit` (multiplied by TASKER_TEST_TIMEOUT_SCALE: a limit against hangs).
void wait_until(const std::function<bool()>& condition, const std::string& what,
                std::chrono::milliseconds limit = std::chrono::seconds{60});

/// The step's result, or fails the test naming the step.
json result_of(Harness& h, const std::string& task_uuid, const std::string& step);

/// From the transition history: no step entered in_progress before all its
/// dependencies had completed (compared by the order transitions were recorded).
void check_dependency_order(Harness& h, const std::string& task_uuid);

/// Times the step entered in_progress, in order (one per attempt).
std::vector<tasker::TimePoint> attempt_starts(Harness& h, const std::string& task_uuid, const std::string& step);
/// Times an attempt of the step failed (entered waiting_for_retry or error from in_progress).
std::vector<tasker::TimePoint> attempt_failures(Harness& h, const std::string& task_uuid, const std::string& step);

/// Checks that each retry started no sooner than the policy's delay after the failure before it.
void check_backoff_respected(Harness& h, const std::string& task_uuid, const std::string& step);

}  // namespace e2e
