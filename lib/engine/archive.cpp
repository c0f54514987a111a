// Archive files: JSON Lines written durably before a purge deletes, and read
// back whole (every line checked) before an import writes anything.
#include "tasker/archive.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "model/archive_format.hpp"
#include "tasker/errors.hpp"

namespace tasker {

namespace {

std::string system_error(int error) { return std::strerror(error); }

void fsync_folder(const std::filesystem::path& file) {
  const auto folder = file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // the file's data is synced; a folder we cannot open cannot be synced either
  ::fsync(fd);
  ::close(fd);
}

enum class LineEnd { newline, end_of_file, too_long };

/// One line into `line` (without its newline), reading no more than `max` bytes of it.
LineEnd read_line(std::istream& in, std::string& line, std::size_t max) {
  line.clear();
  std::streambuf& buf = *in.rdbuf();
  for (;;) {
    const auto c = buf.sbumpc();
    if (c == std::char_traits<char>::eof()) return LineEnd::end_of_file;
    if (c == '\n') return LineEnd::newline;
    if (line.size() == max) return LineEnd::too_long;
    line.push_back(static_cast<char>(c));
  }
}

}  // namespace

ArchiveFile::ArchiveFile(std::filesystem::path path) : path_(std::move(path)) {
  const bool existed = std::filesystem::exists(path_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0)
    throw InvalidRequestError(
        fmt::format("cannot open the archive file {} for appending: {}", path_.string(), system_error(errno)));
  if (!existed) fsync_folder(path_);
}

ArchiveFile::~ArchiveFile() {
  if (fd_ >= 0) ::close(fd_);
}

void ArchiveFile::write(const std::vector<json>& records) {
  std::string text;
  for (const json& r : records) {
    text += r.dump(-1, ' ', false, json::error_handler_t::replace);
    text += '\n';
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw Error(fmt::format("writing the archive file {} failed: {}; nothing of this batch was deleted",
                              path_.string(), system_error(errno)));
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd_) != 0)
    throw Error(fmt::format("syncing the archive file {} failed: {}; nothing of this batch was deleted", path_.string(),
                            system_error(errno)));
}

ArchiveSink ArchiveFile::sink() {
  return [this](const std::vector<json>& records) { write(records); };
}

std::vector<json> read_archive(std::istream& in, const std::string& source, const JsonLimits& limits) {
  // A line holds a task's context and each step's results, each within the
  // limits, inside the line's own three levels (record, part, row).
  const JsonLimits line_limits{limits.max_depth + 3, kMaxArchiveLineBytes};
  std::vector<json> records;
  std::string line;
  std::size_t number = 0;
  for (;;) {
    const LineEnd end = read_line(in, line, line_limits.max_bytes);
    if (end == LineEnd::end_of_file && line.empty()) break;
    ++number;
    if (end == LineEnd::too_long)
      throw InvalidRequestError(
          fmt::format("{}:{}: the line is longer than an archive line may be ({} bytes); "
                      "nothing was imported",
                      source, number, line_limits.max_bytes));
    if (end == LineEnd::end_of_file)
      throw InvalidRequestError(fmt::format(
          "{}:{}: the last line ends without a newline: the file was cut mid-line (every line an archive writer "
          "writes ends with one); nothing was imported",
          source, number));
    try {
      json record = parse_json(line, line_limits, fmt::format("line {}", number));
      detail::check_archive_record(record);
      records.push_back(std::move(record));
    } catch (const json::exception& e) {
      throw InvalidRequestError(
          fmt::format("{}:{}: not JSON: {}; an archive has one JSON object a line (JSON "
                      "Lines, docs/retention.md); nothing was imported",
                      source, number, json_error_text(e)));
    } catch (const std::invalid_argument& e) {
      throw InvalidRequestError(fmt::format(
          "{}:{}: not a tasker archive record: {} (docs/retention.md, \"The archive\"); nothing was imported", source,
          number, e.what()));
    } catch (const LimitError& e) {
      throw InvalidRequestError(fmt::format("{}:{}: {}; nothing was imported", source, number, e.what()));
    }
  }
  return records;
}

std::vector<json> read_archive_file(const std::filesystem::path& path, const JsonLimits& limits) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw NotFoundError("archive file", path.string());
  return read_archive(in, path.string(), limits);
}

}  // namespace tasker
