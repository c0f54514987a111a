#pragma once
// Small output helpers shared by the subcommands: aligned tables, JSON,
// durations, and what the terminal is.
#include <chrono>
#include <string>
#include <vector>

#include "tasker/json.hpp"

namespace tasker::cli {

/// Rows under headers as lines, columns padded to the widest cell.
[[nodiscard]] std::vector<std::string> format_table(const std::vector<std::string>& headers,
                                                    const std::vector<std::vector<std::string>>& rows);

/// Print rows under headers, columns padded to the widest cell.
void print_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows);

/// Pretty-printed JSON on stdout.
void print_json(const json& value);

/// Whether stdout is a terminal (for colour and live views).
[[nodiscard]] bool stdout_is_terminal();

/// The terminal's size in columns and rows (80x24 when unknown).
struct TerminalSize {
  int columns{80};
  int rows{24};
};
[[nodiscard]] TerminalSize terminal_size();

/// Display width of UTF-8 text (continuation bytes count as nothing).
[[nodiscard]] std::size_t display_width(const std::string& text);

/// `text` cut to at most `max` display columns, ending in `…` when cut; newlines become spaces.
[[nodiscard]] std::string shorten(const std::string& text, std::size_t max);

/// `850ms`, `1.2s`, `3m04s`, `2h05m`.
[[nodiscard]] std::string format_duration(std::chrono::milliseconds d);

}  // namespace tasker::cli
