#include "storage/sql/rows.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "storage/sql/values.hpp"
#include "tasker/errors.hpp"

namespace tasker::detail::sql {

namespace {
json optional_value(const std::optional<std::int64_t>& v) { return v ? json(*v) : json(nullptr); }
json optional_json_text(const std::optional<json>& v) { return v ? json(v->dump()) : json(nullptr); }
}  // namespace

std::string rows_of(const Dialect& d, int param, std::span<const Column> columns, const std::string& alias) {
  std::vector<std::pair<std::string, ColumnType>> cols;
  cols.reserve(columns.size());
  for (const Column& c : columns) cols.emplace_back(c.name, c.type);
  return d.json_rows(param, cols, alias);
}

std::string column_list(std::span<const Column> columns, std::string_view alias, bool json_as_text) {
  std::string out;
  for (const Column& c : columns) {
    if (!out.empty()) out += ", ";
    if (!alias.empty()) out += fmt::format("{}.", alias);
    out += c.name;
    if (json_as_text && c.type == ColumnType::json) out += "::TEXT";
  }
  return out;
}

namespace {
std::string element(std::size_t i, ColumnType type, std::string_view v) {
  switch (type) {
    case ColumnType::text: return fmt::format("({}->>{})", v, i);
    case ColumnType::integer: return fmt::format("({}->>{})::BIGINT", v, i);
    case ColumnType::json: return fmt::format("({}->>{})::JSONB", v, i);
  }
  return {};
}
}  // namespace

std::string jsonb_elements(std::span<const Column> columns, std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < columns.size(); ++i) out += (i ? ", " : "") + element(i, columns[i].type, v);
  return out;
}

namespace {
json ordered(std::span<const Column> columns, const json& named) {
  json row = json::array();
  for (const Column& c : columns) {
    auto it = named.find(c.name);
    if (it == named.end()) throw StorageError(fmt::format("internal: the row lacks column `{}`", c.name));
    row.push_back(*it);
  }
  if (named.size() != columns.size())
    throw StorageError(fmt::format("internal: the row has {} values for {} columns", named.size(), columns.size()));
  return row;
}
}  // namespace

json to_row(const NewStep& s) {
  return ordered(kNewStepColumns, {{"uuid", s.uuid},
                                   {"position", s.position},
                                   {"name", s.name},
                                   {"callable", s.callable},
                                   {"initialization", s.initialization.dump()},
                                   {"dependencies", json(s.dependencies).dump()},
                                   {"state", to_string(s.state)},
                                   {"pending_parents", s.pending_parents},
                                   {"max_attempts", s.retry.max_attempts},
                                   {"retryable", s.retry.retryable ? 1 : 0},
                                   {"backoff", to_string(s.retry.backoff)},
                                   {"backoff_base_ms", s.retry.backoff_base_ms},
                                   {"max_backoff_ms", s.retry.max_backoff_ms},
                                   {"timeout_seconds", s.timeout_seconds},
                                   {"claimable_at", optional_value(s.claimable_at)},
                                   {"step_type", to_string(s.type)},
                                   {"template_step", s.template_step ? json(*s.template_step) : json(nullptr)},
                                   {"batch_id", optional_value(s.batch_id)}});
}

namespace {
json update_values(const StepUpdate& u) {
  return {{"id", u.id},
          {"new_state", to_string(u.state)},
          {"set_results", u.results ? 1 : 0},
          {"new_results", optional_json_text(u.results)},
          {"set_error", u.error ? 1 : 0},
          {"new_error", optional_json_text(u.error)},
          {"attempts_delta", u.attempts_delta},
          {"new_claimable_at", optional_value(u.claimable_at)},
          {"new_completed_at", optional_value(u.completed_at)}};
}
}  // namespace

json to_row(const StepUpdate& u) { return ordered(kStepUpdateColumns, update_values(u)); }

json to_outcome_row(const StepUpdate& u, std::int64_t claim_token, const std::string& reason, const json& payload) {
  json named = update_values(u);
  named["claim_token"] = claim_token;
  named["reason"] = reason;
  named["payload"] = payload.is_null() ? json(nullptr) : json(payload.dump());
  return ordered(kOutcomeColumns, named);
}

namespace {
std::span<const Column> named_row(std::string_view name) {
  if (name == "new_step") return kNewStepColumns;
  if (name == "outcome") return kOutcomeColumns;
  if (name == "claimed") return kClaimedColumns;
  if (name == "claimed_task") return kClaimedTaskColumns;
  throw std::invalid_argument(fmt::format("`{}` is not a declared row (rows.hpp)", name));
}
}  // namespace

std::optional<std::string> row_fragment(std::string_view name, const std::vector<std::string>& args) {
  auto want = [&](std::size_t n) {
    if (args.size() != n)
      throw std::invalid_argument(fmt::format("placeholder `{}` takes {} argument(s), not {}", name, n, args.size()));
  };
  if (name == "columns") {
    want(1);
    return column_list(named_row(args[0]));
  }
  if (name == "list" || name == "text_list") {
    want(2);
    return column_list(named_row(args[0]), args[1], name == "text_list");
  }
  if (name == "values") {
    want(2);
    return jsonb_elements(named_row(args[0]), args[1]);
  }
  if (name == "value") {
    want(3);
    const auto columns = named_row(args[0]);
    for (std::size_t i = 0; i < columns.size(); ++i)
      if (columns[i].name == args[1]) return element(i, columns[i].type, args[2]);
    throw std::invalid_argument(fmt::format("row `{}` has no column `{}`", args[0], args[1]));
  }
  return std::nullopt;
}

NamedRow::NamedRow(const Rows& rows, std::size_t row, std::span<const Column> columns, std::size_t offset)
    : rows_(rows), row_(row), columns_(columns), offset_(offset) {}

std::size_t NamedRow::at(std::string_view name) const {
  for (std::size_t i = 0; i < columns_.size(); ++i)
    if (columns_[i].name == name) return offset_ + i;
  throw StorageError(fmt::format("internal: no column `{}` in this row", name));
}

const std::string& NamedRow::text(std::string_view name) const { return rows_.text(row_, at(name)); }
std::int64_t NamedRow::integer(std::string_view name) const { return rows_.integer(row_, at(name)); }
bool NamedRow::is_null(std::string_view name) const { return rows_.is_null(row_, at(name)); }
json NamedRow::json_value(std::string_view name) const { return parse_json(rows_.rows[row_][at(name)]); }

}  // namespace tasker::detail::sql
