#pragma once
// Small output helpers shared by the subcommands: aligned tables and JSON.
#include <string>
#include <vector>

#include "tasker/json.hpp"

namespace tasker::cli {

/// Print rows under headers, columns padded to the widest cell.
void print_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows);

/// Pretty-printed JSON on stdout.
void print_json(const json& value);

/// Whether stdout is a terminal (for colour and live views).
[[nodiscard]] bool stdout_is_terminal();

}  // namespace tasker::cli
