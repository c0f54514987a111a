#pragma once
// Archive files (docs/retention.md, "The archive"): JSON Lines, one finished
// task a line with its steps (results, errors, checkpoints), edges,
// transitions and signals. `tasker purge --archive` and PurgeRequest::archive
// write them before the delete commits; Client::import_archive reads them back.
#include <filesystem>
#include <istream>
#include <string>
#include <vector>

#include "tasker/json.hpp"
#include "tasker/limits.hpp"
#include "tasker/retention.hpp"

namespace tasker {

/// Appends archive records to a file, one line each, and makes every write
/// durable (fsync of the file, and of its folder when the file is new) before
/// write() returns: as a PurgeRequest::archive sink, a batch's tasks are on
/// disk before their delete commits. Not thread-safe; one writer per file.
class ArchiveFile {
 public:
  /// Opens (creates) `path` for appending. Throws InvalidRequestError naming
  /// the file and the system's reason when it cannot.
  explicit ArchiveFile(std::filesystem::path path);
  ~ArchiveFile();
  ArchiveFile(const ArchiveFile&) = delete;
  ArchiveFile& operator=(const ArchiveFile&) = delete;

  /// Append one line per record and fsync. Throws StorageError when the
  /// system refuses (disk full): the caller's batch is then not deleted.
  void write(const std::vector<json>& records);
  /// A sink for PurgeRequest::archive that writes here.
  [[nodiscard]] ArchiveSink sink();
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_{-1};
};

/// The most an archive line may hold: a task's steps and their results (each
/// within the JSON limits) together; deeper than the limits' depth plus the
/// line's own levels is refused too.
inline constexpr std::size_t kMaxArchiveLineBytes = std::size_t{256} * 1024 * 1024;

/// Read and check every line of an archive before anything is imported.
/// Throws InvalidRequestError naming `source` and the line: a line that is not
/// JSON or not an archive record (model's shape, version), and a last line
/// without its newline (a file truncated mid-line).
[[nodiscard]] std::vector<json> read_archive(std::istream& in, const std::string& source, const JsonLimits& limits);
/// The same for a file; NotFoundError when it does not exist.
[[nodiscard]] std::vector<json> read_archive_file(const std::filesystem::path& path, const JsonLimits& limits);

}  // namespace tasker
