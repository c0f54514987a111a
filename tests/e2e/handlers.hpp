#pragma once
// The e2e suite's handlers and harness set-up (no test framework here, so a
// worker process can link it too).
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tasker/testing.hpp"

namespace e2e {

using tasker::json;
using tasker::testing::Harness;

std::filesystem::path source_dir();

/// Register the suite's handlers: C++ implementations, or the same logic in
/// tests/e2e/handlers/e2e_handlers.py as command handlers.
void register_handlers(Harness& h);

/// Every handler of the suite: its callable, C++ implementation and the command
/// of `kind` (command: e2e_handlers.py once per attempt; persistent: the same
/// logic served by the tasker package, e2e_persistent.py).
void for_each_handler(const std::function<void(const std::string&, tasker::StepHandler, std::vector<std::string>)>& add,
                      tasker::testing::HandlerKind kind);

/// The handlers of the dynamic workflows (tests/e2e/dynamic_handlers.cpp), by callable.
const std::map<std::string, tasker::StepHandler>& dynamic_cpp_handlers();

/// Path of the marker file the handlers use for state that must survive a
/// process (`test.fail_until_reset`, `test.slow` start markers).
std::filesystem::path marker(const std::string& task_uuid, const std::string& step, const std::string& what);

/// How many times the batch worker `items.process` processed each item, by
/// item (it appends each one to its "processed" marker file before working on it).
std::map<long long, int> processed_items(const std::string& task_uuid, const std::string& step);

}  // namespace e2e
