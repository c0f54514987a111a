#include "output.hpp"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

namespace tasker::cli {

std::size_t display_width(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::vector<std::string> format_table(const std::vector<std::string>& headers,
                                      const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths(headers.size());
  for (std::size_t i = 0; i < headers.size(); ++i) widths[i] = display_width(headers[i]);
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], display_width(row[i]));
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t i = 0; i < cells.size() && i < widths.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) out += std::string(widths[i] - display_width(cells[i]) + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
  };
  std::vector<std::string> lines{line(headers)};
  for (const auto& row : rows) lines.push_back(line(row));
  return lines;
}

void print_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows) {
  for (const auto& l : format_table(headers, rows)) fmt::print("{}\n", l);
}

void print_json(const json& value) { fmt::print("{}\n", value.dump(2)); }

bool stdout_is_terminal() { return isatty(STDOUT_FILENO) == 1; }

TerminalSize terminal_size() {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) return {ws.ws_col, ws.ws_row};
  return {};
}

std::string shorten(const std::string& text, std::size_t max) {
  std::string flat = text;
  std::replace_if(
      flat.begin(), flat.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  if (display_width(flat) <= max) return flat;
  if (max == 0) return "";
  // Keep max - 1 characters (never splitting a UTF-8 sequence), then the ellipsis.
  std::size_t kept = 0, end = 0;
  while (end < flat.size()) {
    std::size_t next = end + 1;
    while (next < flat.size() && (flat[next] & 0xC0) == 0x80) ++next;
    if (++kept > max - 1) break;
    end = next;
  }
  return flat.substr(0, end) + "…";
}

std::string format_duration(std::chrono::milliseconds d) {
  long long ms = std::max<long long>(d.count(), 0);
  if (ms < 1000) return fmt::format("{}ms", ms);
  if (ms < 60'000) return fmt::format("{:.1f}s", static_cast<double>(ms) / 1000.0);
  long long s = ms / 1000;
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

}  // namespace tasker::cli
