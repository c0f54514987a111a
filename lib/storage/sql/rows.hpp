#pragma once
// The rows that travel between C++ and SQL as JSON arrays (a new step, a step
// update, a claimed step), each declared once, by name: the statements' column
// lists, the server functions' extraction of array elements, and the C++ that
// writes or reads the arrays all come from the declarations below, so no
// reader counts positions by hand.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/sql/connection.hpp"
#include "tasker/json.hpp"
#include "tasker/retry.hpp"
#include "tasker/states.hpp"
#include "tasker/template.hpp"

namespace tasker::detail::sql {

struct Column {
  std::string_view name;
  ColumnType type;
};

/// The position of `name` in `columns`; a compile error (in a constant
/// expression) for a name that is not there.
template <std::size_t N>
consteval std::size_t column_index(const std::array<Column, N>& columns, std::string_view name) {
  for (std::size_t i = 0; i < N; ++i)
    if (columns[i].name == name) return i;
  throw "no such column";
}

/// `(SELECT ... FROM rows of parameter $param) AS alias` with these columns (Dialect::json_rows).
[[nodiscard]] std::string rows_of(const Dialect& d, int param, std::span<const Column> columns,
                                  const std::string& alias);
/// "a, b, c" (prefixed with `alias.` unless empty); JSON columns as text when `json_as_text`.
[[nodiscard]] std::string column_list(std::span<const Column> columns, std::string_view alias = "",
                                      bool json_as_text = false);
/// PL/pgSQL: the elements of the JSONB array `v` as typed values, in column order.
[[nodiscard]] std::string jsonb_elements(std::span<const Column> columns, std::string_view v);

/// A step row to insert (task creation, steps created at run time).
struct NewStep {
  std::string uuid;
  std::int64_t position{0};
  std::string name;
  std::string callable;
  json initialization = json::object();
  std::vector<std::string> dependencies;
  StepState state{StepState::pending};
  std::int64_t pending_parents{0};
  RetryPolicy retry;
  int timeout_seconds{0};
  std::optional<std::int64_t> claimable_at;
  StepType type{StepType::standard};
  std::optional<std::string> template_step;
  std::optional<std::int64_t> batch_id;
};
inline constexpr std::array<Column, 18> kNewStepColumns{{{"uuid", ColumnType::text},
                                                         {"position", ColumnType::integer},
                                                         {"name", ColumnType::text},
                                                         {"callable", ColumnType::text},
                                                         {"initialization", ColumnType::json},
                                                         {"dependencies", ColumnType::json},
                                                         {"state", ColumnType::text},
                                                         {"pending_parents", ColumnType::integer},
                                                         {"max_attempts", ColumnType::integer},
                                                         {"retryable", ColumnType::integer},
                                                         {"backoff", ColumnType::text},
                                                         {"backoff_base_ms", ColumnType::integer},
                                                         {"max_backoff_ms", ColumnType::integer},
                                                         {"timeout_seconds", ColumnType::integer},
                                                         {"claimable_at", ColumnType::integer},
                                                         {"step_type", ColumnType::text},
                                                         {"template_step", ColumnType::text},
                                                         {"batch_id", ColumnType::integer}}};
/// The row as a JSON array in kNewStepColumns' order.
[[nodiscard]] json to_row(const NewStep& s);

/// New values for a step row: an outcome, a reclaim, an operator action.
struct StepUpdate {
  std::int64_t id{0};
  StepState state{StepState::pending};
  std::optional<json> results;  ///< set when present
  std::optional<json> error;    ///< set when present
  int attempts_delta{0};
  std::optional<std::int64_t> claimable_at;
  std::optional<std::int64_t> completed_at;
};
inline constexpr std::array<Column, 9> kStepUpdateColumns{{{"id", ColumnType::integer},
                                                           {"new_state", ColumnType::text},
                                                           {"set_results", ColumnType::integer},
                                                           {"new_results", ColumnType::json},
                                                           {"set_error", ColumnType::integer},
                                                           {"new_error", ColumnType::json},
                                                           {"attempts_delta", ColumnType::integer},
                                                           {"new_claimable_at", ColumnType::integer},
                                                           {"new_completed_at", ColumnType::integer}}};
[[nodiscard]] json to_row(const StepUpdate& u);

template <std::size_t A, std::size_t B>
consteval std::array<Column, A + B> concat(const std::array<Column, A>& a, const std::array<Column, B>& b) {
  std::array<Column, A + B> out{};
  for (std::size_t i = 0; i < A; ++i) out[i] = a[i];
  for (std::size_t i = 0; i < B; ++i) out[A + i] = b[i];
  return out;
}

/// A worker's outcome for the server function: the update, fenced by the
/// claim's token, with the transition's reason and payload the C++ decided.
inline constexpr auto kOutcomeColumns =
    concat(kStepUpdateColumns,
           std::array<Column, 3>{
               {{"claim_token", ColumnType::integer}, {"reason", ColumnType::text}, {"payload", ColumnType::json}}});
[[nodiscard]] json to_outcome_row(const StepUpdate& u, std::int64_t claim_token, const std::string& reason,
                                  const json& payload);

/// What a claim returns of each claimed step row (the claim's UPDATE ... RETURNING).
inline constexpr std::array<Column, 17> kClaimedColumns{{{"id", ColumnType::integer},
                                                         {"task_id", ColumnType::integer},
                                                         {"uuid", ColumnType::text},
                                                         {"name", ColumnType::text},
                                                         {"callable", ColumnType::text},
                                                         {"initialization", ColumnType::json},
                                                         {"attempts", ColumnType::integer},
                                                         {"claim_token", ColumnType::integer},
                                                         {"max_attempts", ColumnType::integer},
                                                         {"retryable", ColumnType::integer},
                                                         {"backoff", ColumnType::text},
                                                         {"backoff_base_ms", ColumnType::integer},
                                                         {"max_backoff_ms", ColumnType::integer},
                                                         {"timeout_seconds", ColumnType::integer},
                                                         {"step_type", ColumnType::text},
                                                         {"checkpoint", ColumnType::json},
                                                         {"error", ColumnType::json}}};
/// What a claim reads of each claimed step's task (Statements::claim_tasks, after `id`).
inline constexpr std::array<Column, 5> kClaimedTaskColumns{{{"uuid", ColumnType::text},
                                                            {"namespace_name", ColumnType::text},
                                                            {"name", ColumnType::text},
                                                            {"version", ColumnType::text},
                                                            {"context", ColumnType::json}}};

/// A transition as the server function returns those it appended, for the events.
inline constexpr std::array<Column, 9> kTransitionColumns{{{"task_id", ColumnType::integer},
                                                           {"step_id", ColumnType::integer},
                                                           {"step_name", ColumnType::text},
                                                           {"from_state", ColumnType::text},
                                                           {"to_state", ColumnType::text},
                                                           {"worker_id", ColumnType::text},
                                                           {"reason", ColumnType::text},
                                                           {"attempt", ColumnType::integer},
                                                           {"payload", ColumnType::json}}};

/// The rows' placeholders in SQL files (state_sql.hpp's render_sql): ROW is
/// new_step, outcome, claimed or claimed_task; `{{columns:ROW}}` (names),
/// `{{list:ROW,ALIAS}}` (alias.name, ...), `{{text_list:ROW,ALIAS}}` (JSON
/// columns as text), `{{values:ROW,V}}` (the elements of JSONB array V, typed,
/// in column order), `{{value:ROW,COLUMN,V}}` (one of them). nullopt for
/// another name; std::invalid_argument for an unknown row or column.
[[nodiscard]] std::optional<std::string> row_fragment(std::string_view name, const std::vector<std::string>& args);

/// A returned row's column by name (a row of `columns`, starting at `offset`).
class NamedRow {
 public:
  NamedRow(const Rows& rows, std::size_t row, std::span<const Column> columns, std::size_t offset = 0);
  [[nodiscard]] const std::string& text(std::string_view name) const;
  [[nodiscard]] std::int64_t integer(std::string_view name) const;
  [[nodiscard]] bool is_null(std::string_view name) const;
  [[nodiscard]] json json_value(std::string_view name) const;  ///< null for SQL NULL

 private:
  [[nodiscard]] std::size_t at(std::string_view name) const;
  const Rows& rows_;
  std::size_t row_;
  std::span<const Column> columns_;
  std::size_t offset_;
};

}  // namespace tasker::detail::sql
