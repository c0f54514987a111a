#include "storage/sql/values.hpp"

#include <fmt/format.h>

#include "tasker/errors.hpp"

namespace tasker::detail::sql {

json parse_json(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  return json::parse(*text, nullptr, false);
}

std::string id_list(const std::vector<std::int64_t>& ids) {
  json a = json::array();
  for (auto id : ids) a.push_back(id);
  return a.dump();
}

std::string text_list(const std::vector<std::string>& items) { return json(items).dump(); }

Rows rows_from_json(const json& rows) {
  Rows out;
  out.rows.reserve(rows.size());
  for (const auto& row : rows) {
    Rows::Row& r = out.rows.emplace_back();
    r.reserve(row.size());
    for (const auto& v : row) {
      if (v.is_null())
        r.emplace_back();
      else
        r.emplace_back(v.is_string() ? v.get<std::string>() : v.dump());
    }
  }
  return out;
}

json failure_json(const StepFailure& f) {
  return {{"message", f.message}, {"error_type", f.error_type}, {"retryable", f.retryable}, {"context", f.context}};
}

StepFailure failure_from_json(const json& j) {
  StepFailure f;
  if (!j.is_object()) return f;
  f.message = j.value("message", "");
  f.error_type = j.value("error_type", "");
  f.retryable = j.value("retryable", false);
  f.context = j.contains("context") ? j["context"] : json::object();
  return f;
}

RetryPolicy policy_from(const Rows& r, std::size_t row, std::size_t first_col) {
  RetryPolicy p;
  p.max_attempts = static_cast<int>(r.integer(row, first_col));
  p.retryable = r.integer(row, first_col + 1) != 0;
  p.backoff = parse_backoff_kind(r.text(row, first_col + 2)).value_or(BackoffKind::exponential);
  p.backoff_base_ms = r.integer(row, first_col + 3);
  p.max_backoff_ms = r.integer(row, first_col + 4);
  return p;
}

StepState step_state_from(const std::string& s) {
  if (auto st = parse_step_state(s)) return *st;
  throw StorageError(fmt::format("unknown step state `{}` in the database", s));
}

TaskState task_state_from(const std::string& s) {
  if (auto st = parse_task_state(s)) return *st;
  throw StorageError(fmt::format("unknown task state `{}` in the database", s));
}

}  // namespace tasker::detail::sql
