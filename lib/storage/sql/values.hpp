#pragma once
// How values travel between C++ and the store's SQL: times as epoch
// milliseconds, id and name lists as one JSON-array parameter, JSON columns
// as text, and the enumerations by name.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/sql/connection.hpp"
#include "tasker/clock.hpp"
#include "tasker/json.hpp"
#include "tasker/retry.hpp"
#include "tasker/states.hpp"
#include "tasker/task.hpp"

namespace tasker::detail::sql {

[[nodiscard]] inline std::int64_t ms(TimePoint t) { return to_epoch_ms(t); }

/// A JSON column's value; null for SQL NULL.
[[nodiscard]] json parse_json(const std::optional<std::string>& text);
/// A JSON-array parameter of ids (expanded by Dialect::in_list or json_rows).
[[nodiscard]] std::string id_list(const std::vector<std::int64_t>& ids);
[[nodiscard]] std::string text_list(const std::vector<std::string>& items);
/// Rows from a JSON array of arrays, as the text protocol would give them:
/// strings as they are, null as NULL, anything else as its JSON text.
[[nodiscard]] Rows rows_from_json(const json& rows);

/// The `error` column: a failure as stored, and back.
[[nodiscard]] json failure_json(const StepFailure& failure);
[[nodiscard]] StepFailure failure_from_json(const json& j);

/// The five retry columns starting at `first_col`: max_attempts, retryable,
/// backoff, backoff_base_ms, max_backoff_ms.
[[nodiscard]] RetryPolicy policy_from(const Rows& r, std::size_t row, std::size_t first_col);
/// A state column; StorageError for a name this build does not know.
[[nodiscard]] StepState step_state_from(const std::string& s);
[[nodiscard]] TaskState task_state_from(const std::string& s);

}  // namespace tasker::detail::sql
