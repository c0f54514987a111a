#include "storage/sql/sql_files.hpp"

#include <fmt/format.h>

#include <stdexcept>
#include <vector>

namespace tasker::detail::sql {

// Defined by the generated sql_files.cpp (cmake/embed_files.cmake).
struct EmbeddedFile {
  const char* path;
  const char* text;
};
extern const EmbeddedFile kSqlFiles[];
extern const std::size_t kSqlFiles_count;

std::span<const SqlFile> sql_files() {
  static const std::vector<SqlFile> files = [] {
    std::vector<SqlFile> out;
    for (std::size_t i = 0; i < kSqlFiles_count; ++i) out.push_back({kSqlFiles[i].path, kSqlFiles[i].text});
    return out;
  }();
  return files;
}

std::string_view sql_file(std::string_view path) {
  for (const SqlFile& f : sql_files())
    if (f.path == path) return f.text;
  throw std::out_of_range(fmt::format("no SQL file `{}` is embedded in this build", path));
}

}  // namespace tasker::detail::sql
