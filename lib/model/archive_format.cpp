#include "model/archive_format.hpp"

#include <fmt/format.h>

#include <array>
#include <set>
#include <stdexcept>

#include "tasker/retention.hpp"
#include "tasker/states.hpp"
#include "tasker/task.hpp"

namespace tasker::detail {

namespace {

constexpr ArchiveValue kInt = ArchiveValue::integer;
constexpr ArchiveValue kText = ArchiveValue::text;
constexpr ArchiveValue kJson = ArchiveValue::json;

constexpr std::array kTask{
    ArchiveColumn{"id", kInt, false},
    ArchiveColumn{"uuid", kText, false},
    ArchiveColumn{"namespace_name", kText, false},
    ArchiveColumn{"name", kText, false},
    ArchiveColumn{"version", kText, false},
    ArchiveColumn{"state", kText, false},
    ArchiveColumn{"context", kJson, false},
    ArchiveColumn{"initiator", kText, false},
    ArchiveColumn{"source_system", kText, false},
    ArchiveColumn{"reason", kText, false},
    ArchiveColumn{"tags", kJson, false},
    ArchiveColumn{"priority", kInt, false},
    ArchiveColumn{"correlation_id", kText, false},
    ArchiveColumn{"idempotency_key", kText, true},
    ArchiveColumn{"identity_hash", kText, true},
    ArchiveColumn{"bypassed_steps", kJson, false},
    ArchiveColumn{"total_steps", kInt, false},
    ArchiveColumn{"completed_steps", kInt, false},
    ArchiveColumn{"resolved_steps", kInt, false},
    ArchiveColumn{"failed_steps", kInt, false},
    ArchiveColumn{"active_steps", kInt, false},
    ArchiveColumn{"created_at", kInt, false},
    ArchiveColumn{"updated_at", kInt, false},
    ArchiveColumn{"completed_at", kInt, true},
    ArchiveColumn{"definition", kJson, true},
    ArchiveColumn{"run_at", kInt, true},
};

constexpr std::array kSteps{
    ArchiveColumn{"id", kInt, false},
    ArchiveColumn{"uuid", kText, false},
    ArchiveColumn{"position", kInt, false},
    ArchiveColumn{"name", kText, false},
    ArchiveColumn{"namespace_name", kText, false},
    ArchiveColumn{"callable", kText, false},
    ArchiveColumn{"initialization", kJson, false},
    ArchiveColumn{"dependencies", kJson, false},
    ArchiveColumn{"state", kText, false},
    ArchiveColumn{"priority", kInt, false},
    ArchiveColumn{"pending_parents", kInt, false},
    ArchiveColumn{"attempts", kInt, false},
    ArchiveColumn{"max_attempts", kInt, false},
    ArchiveColumn{"retryable", kInt, false},
    ArchiveColumn{"backoff", kText, false},
    ArchiveColumn{"backoff_base_ms", kInt, false},
    ArchiveColumn{"max_backoff_ms", kInt, false},
    ArchiveColumn{"timeout_seconds", kInt, false},
    ArchiveColumn{"claimable_at", kInt, true},
    ArchiveColumn{"claim_token", kInt, false},
    ArchiveColumn{"worker_id", kText, true},
    ArchiveColumn{"lease_expires_at", kInt, true},
    ArchiveColumn{"results", kJson, true},
    ArchiveColumn{"error", kJson, true},
    ArchiveColumn{"created_at", kInt, false},
    ArchiveColumn{"updated_at", kInt, false},
    ArchiveColumn{"last_attempted_at", kInt, true},
    ArchiveColumn{"completed_at", kInt, true},
    ArchiveColumn{"step_type", kText, false},
    ArchiveColumn{"template_step", kText, true},
    ArchiveColumn{"batch_id", kInt, true},
    ArchiveColumn{"checkpoint", kJson, true},
    ArchiveColumn{"child_results", kJson, true},
    ArchiveColumn{"wake_at", kInt, true},
    ArchiveColumn{"retry_budget", kInt, true},
};

constexpr std::array kEdges{
    ArchiveColumn{"parent_id", kInt, false},
    ArchiveColumn{"child_id", kInt, false},
};

constexpr std::array kTransitions{
    ArchiveColumn{"step_id", kInt, true},     ArchiveColumn{"from_state", kText, true},
    ArchiveColumn{"to_state", kText, false},  ArchiveColumn{"at", kInt, false},
    ArchiveColumn{"worker_id", kText, false}, ArchiveColumn{"reason", kText, false},
    ArchiveColumn{"attempt", kInt, false},    ArchiveColumn{"payload", kJson, true},
};

constexpr std::array kSignals{
    ArchiveColumn{"name", kText, false},       ArchiveColumn{"signal_key", kText, true},
    ArchiveColumn{"payload", kJson, true},     ArchiveColumn{"sender", kText, false},
    ArchiveColumn{"received_at", kInt, false}, ArchiveColumn{"consumed_at", kInt, true},
    ArchiveColumn{"step_id", kInt, true},
};

void check_row(const json& row, ArchivePart part, const std::string& where) {
  if (!row.is_object()) throw std::invalid_argument(fmt::format("{} is not a JSON object", where));
  for (const ArchiveColumn& c : archive_columns(part)) {
    const auto it = row.find(c.name);
    if (it == row.end()) throw std::invalid_argument(fmt::format("{} has no `{}`", where, c.name));
    if (it->is_null()) {
      if (!c.nullable) throw std::invalid_argument(fmt::format("{}'s `{}` may not be null", where, c.name));
      continue;
    }
    const bool ok = c.type == kInt ? it->is_number_integer() : c.type == kText ? it->is_string() : true;
    if (!ok)
      throw std::invalid_argument(
          fmt::format("{}'s `{}` must be {}", where, c.name, c.type == kInt ? "an integer" : "a string"));
  }
}

const json& array_of(const json& record, ArchivePart part) {
  const auto key = archive_key(part);
  const auto it = record.find(key);
  if (it == record.end() || !it->is_array())
    throw std::invalid_argument(fmt::format("`{}` is missing or not an array", key));
  return *it;
}

}  // namespace

std::string_view archive_key(ArchivePart part) {
  switch (part) {
    case ArchivePart::task: return "task";
    case ArchivePart::steps: return "steps";
    case ArchivePart::edges: return "edges";
    case ArchivePart::transitions: return "transitions";
    case ArchivePart::signals: return "signals";
  }
  return "task";
}

std::span<const ArchiveColumn> archive_columns(ArchivePart part) {
  switch (part) {
    case ArchivePart::task: return kTask;
    case ArchivePart::steps: return kSteps;
    case ArchivePart::edges: return kEdges;
    case ArchivePart::transitions: return kTransitions;
    case ArchivePart::signals: return kSignals;
  }
  return kTask;
}

void check_archive_record(const json& record) {
  if (!record.is_object()) throw std::invalid_argument("an archive line must be a JSON object");
  const auto version = record.find("version");
  if (version == record.end() || !version->is_number_integer() || *version != kArchiveFormatVersion)
    throw std::invalid_argument(
        fmt::format("`version` must be {} (this build's archive format)", kArchiveFormatVersion));
  const auto task = record.find("task");
  if (task == record.end()) throw std::invalid_argument("`task` is missing");
  check_row(*task, ArchivePart::task, "`task`");
  if (!is_uuid((*task)["uuid"].get<std::string>()))
    throw std::invalid_argument(fmt::format("`task`'s uuid `{}` is not a UUID", (*task)["uuid"].get<std::string>()));
  if (!parse_purgeable_state((*task)["state"].get<std::string>()) || (*task)["active_steps"] != 0)
    throw std::invalid_argument(
        fmt::format("`task` is not finished ({}, with no active steps)", purgeable_state_names()));
  std::set<std::int64_t> steps;
  const json& step_rows = array_of(record, ArchivePart::steps);
  for (std::size_t i = 0; i < step_rows.size(); ++i) {
    const json& s = step_rows[i];
    const std::string where = fmt::format("`steps[{}]`", i);
    check_row(s, ArchivePart::steps, where);
    if (!parse_step_state(s["state"].get<std::string>()))
      throw std::invalid_argument(
          fmt::format("{}'s state `{}` is no step state", where, s["state"].get<std::string>()));
    if (!s["claimable_at"].is_null() || !s["lease_expires_at"].is_null() || !s["wake_at"].is_null())
      throw std::invalid_argument(
          fmt::format("{} could still be claimed or woken: an archive holds finished tasks", where));
    if (!steps.insert(s["id"].get<std::int64_t>()).second)
      throw std::invalid_argument(fmt::format("{}'s id {} appears twice", where, s["id"].get<std::int64_t>()));
  }
  auto known = [&](const json& id, const std::string& where, std::string_view field) {
    if (!id.is_null() && !steps.count(id.get<std::int64_t>()))
      throw std::invalid_argument(
          fmt::format("{}'s `{}` {} names no step of the line", where, field, id.get<std::int64_t>()));
  };
  for (std::size_t i = 0; i < step_rows.size(); ++i)
    known(step_rows[i]["batch_id"], fmt::format("`steps[{}]`", i), "batch_id");
  for (ArchivePart part : {ArchivePart::edges, ArchivePart::transitions, ArchivePart::signals}) {
    const json& rows = array_of(record, part);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const std::string where = fmt::format("`{}[{}]`", archive_key(part), i);
      check_row(rows[i], part, where);
      for (const ArchiveColumn& c : archive_columns(part))
        if (c.name == "step_id" || c.name == "parent_id" || c.name == "child_id") known(rows[i][c.name], where, c.name);
    }
  }
}

}  // namespace tasker::detail
