#include "output.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

namespace tasker::cli {

namespace {
// Display width, counting UTF-8 continuation bytes as nothing.
std::size_t width(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}
}  // namespace

void print_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths(headers.size());
  for (std::size_t i = 0; i < headers.size(); ++i) widths[i] = width(headers[i]);
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], width(row[i]));
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t i = 0; i < cells.size() && i < widths.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) out += std::string(widths[i] - width(cells[i]) + 2, ' ');
    }
    fmt::print("{}\n", out);
  };
  line(headers);
  for (const auto& row : rows) line(row);
}

void print_json(const json& value) { fmt::print("{}\n", value.dump(2)); }

bool stdout_is_terminal() { return isatty(STDOUT_FILENO) == 1; }

}  // namespace tasker::cli
