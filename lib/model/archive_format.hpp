#pragma once
// The shape of an archive line (docs/retention.md, "The archive"), declared
// once: the store writes and reads the rows by these columns, and
// Client::import_archive checks every line against them before anything is
// written. A line is one task: its row, its steps, edges, transitions,
// signals and dead-letter entries, each a JSON object keyed by column name. Ids are the archiving
// database's; an import gives the rows new ones and maps every reference.
#include <span>
#include <string_view>

#include "tasker/json.hpp"

namespace tasker::detail {

enum class ArchiveValue { integer, text, json };

struct ArchiveColumn {
  std::string_view name;
  ArchiveValue type;
  bool nullable;
};

/// The parts of a line: "task" (an object), then arrays of objects.
enum class ArchivePart { task, steps, edges, transitions, signals, dlq_entries };
/// A part a line may leave out (an empty array): those added to version 1
/// after its release (dlq_entries, with migration 12).
[[nodiscard]] bool is_optional_part(ArchivePart part);

[[nodiscard]] std::string_view archive_key(ArchivePart part);
/// The columns of a part. Those named `id`, `step_id`, `parent_id`,
/// `child_id` and `batch_id` hold ids of the archiving database.
[[nodiscard]] std::span<const ArchiveColumn> archive_columns(ArchivePart part);

/// Throws std::invalid_argument naming the first problem of `record` (a
/// missing or mistyped field, a reference to a step the line does not hold, a
/// task that is not finished or a step that could still be claimed or woken).
void check_archive_record(const json& record);

}  // namespace tasker::detail
