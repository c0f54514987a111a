#pragma once
// The e2e suite's handlers and harness set-up (no test framework here, so a
// worker process can link it too).
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tasker/testing.hpp"

namespace e2e {

using tasker::json;
using tasker::testing::Harness;

std::filesystem::path source_dir();

/// A harness on the configured backend with the project's templates and the
/// suite's own (tests/e2e/templates), every e2e handler registered in the
/// configured handler kind, and (unless told otherwise) its worker started.
std::unique_ptr<Harness> make_harness(bool start_worker = true,
                                      tasker::testing::HarnessOptions options = tasker::testing::HarnessOptions{});

/// Register the suite's handlers: C++ implementations, or the same logic in
/// tests/e2e/handlers/e2e_handlers.py as command handlers.
void register_handlers(Harness& h);

/// Every handler of the suite: its callable, C++ implementation and command.
void for_each_handler(
    const std::function<void(const std::string&, tasker::StepHandler, std::vector<std::string>)>& add);

/// Path of the marker file the handlers use for state that must survive a
/// process (`test.fail_until_reset`, `test.slow` start markers).
std::filesystem::path marker(const std::string& task_uuid, const std::string& step, const std::string& what);

}  // namespace e2e
