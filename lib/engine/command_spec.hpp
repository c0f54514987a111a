#pragma once
// What the two ways of running a command (one process per attempt, and
// persistent processes) share about starting one: its argv and why it did not
// start. Implemented in command_handler.cpp.
#include <string>
#include <vector>

#include "engine/supervised_process.hpp"
#include "tasker/command_handler.hpp"

namespace tasker::detail {

/// The argv to execute: spec.argv, or /bin/sh -c with it joined by spaces.
[[nodiscard]] std::vector<std::string> command_argv(const CommandSpec& spec);

/// The message of a command_not_started failure: what failed and what to check.
[[nodiscard]] std::string not_started_message(const CommandSpec& spec, const StartFailure& failure);

}  // namespace tasker::detail
