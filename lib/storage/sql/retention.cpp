#include "storage/sql/retention.hpp"

#include <fmt/format.h>

#include <map>
#include <set>

#include "model/archive_format.hpp"
#include "storage/sql/values.hpp"

namespace tasker::detail::sql {

namespace {

/// The columns of `part` but those an import gives new values (`id`).
std::vector<ArchiveColumn> stored_columns(ArchivePart part, bool with_id) {
  std::vector<ArchiveColumn> out;
  for (const ArchiveColumn& c : archive_columns(part))
    if (with_id || c.name != "id") out.push_back(c);
  return out;
}

std::string names(const std::vector<ArchiveColumn>& columns, std::string_view prefix = "") {
  std::string out;
  for (const auto& c : columns) out += fmt::format("{}{}{}", out.empty() ? "" : ", ", prefix, c.name);
  return out;
}

ColumnType column_type(ArchiveValue v) {
  switch (v) {
    case ArchiveValue::integer: return ColumnType::integer;
    case ArchiveValue::text: return ColumnType::text;
    case ArchiveValue::json: return ColumnType::json;
  }
  return ColumnType::text;
}

/// Columns `first`.. of row `i` as an archive object.
json row_object(const Rows& r, std::size_t i, std::size_t first, const std::vector<ArchiveColumn>& columns) {
  json out = json::object();
  for (std::size_t k = 0; k < columns.size(); ++k) {
    const ArchiveColumn& c = columns[k];
    const std::string key(c.name);
    if (r.is_null(i, first + k)) {
      out[key] = nullptr;
    } else if (c.type == ArchiveValue::integer) {
      out[key] = r.integer(i, first + k);
    } else if (c.type == ArchiveValue::text) {
      out[key] = r.text(i, first + k);
    } else {
      out[key] = parse_json(r.rows[i][first + k]);
    }
  }
  return out;
}

/// An archive value as a json_rows element: JSON columns travel as their text.
json element(const json& value, const ArchiveColumn& c) {
  if (value.is_null() || c.type != ArchiveValue::json) return value;
  return value.dump();
}

std::string where_selected(const Dialect& d, const PurgeSelection& s, std::vector<Param>& p) {
  p = {std::string(to_string(s.state)), ms(s.finished_before)};
  std::string where = "state = $1 AND completed_at IS NOT NULL AND completed_at <= $2 AND active_steps = 0";
  if (s.namespace_name) {
    p.emplace_back(*s.namespace_name);
    where += fmt::format(" AND namespace_name = ${}", p.size());
  }
  if (!s.excluded_namespaces.empty()) {
    p.emplace_back(text_list(s.excluded_namespaces));
    where += fmt::format(" AND NOT ({})", d.in_list("namespace_name", static_cast<int>(p.size()), ColumnType::text));
  }
  return where;
}

const char* table_of(ArchivePart part) {
  switch (part) {
    case ArchivePart::task: return "tasker_tasks";
    case ArchivePart::steps: return "tasker_steps";
    case ArchivePart::edges: return "tasker_step_edges";
    case ArchivePart::transitions: return "tasker_transitions";
    case ArchivePart::signals: return "tasker_signals";
    case ArchivePart::dlq_entries: return "tasker_dlq_entries";
  }
  return "tasker_tasks";
}

/// The archive part `part` of the tasks `ids`, grouped by task id.
std::map<std::int64_t, json> part_rows(Connection& c, const Dialect& d, ArchivePart part, const Param& ids) {
  const auto columns = stored_columns(part, true);
  std::string text;
  switch (part) {
    case ArchivePart::edges:
      text = fmt::format(
          "SELECT s.task_id, {} FROM tasker_step_edges e JOIN tasker_steps s ON s.id = e.parent_id WHERE {} "
          "ORDER BY e.parent_id, e.child_id",
          names(columns, "e."), d.in_list("s.task_id", 1, ColumnType::integer));
      break;
    default: {
      const char* table = table_of(part);
      text = fmt::format("SELECT task_id, {} FROM {} WHERE {} ORDER BY id", names(columns), table,
                         d.in_list("task_id", 1, ColumnType::integer));
    }
  }
  Rows r = c.query(text, {&ids, 1});
  std::map<std::int64_t, json> out;
  for (std::size_t i = 0; i < r.size(); ++i) {
    json& rows = out[r.integer(i, 0)];
    if (rows.is_null()) rows = json::array();
    rows.push_back(row_object(r, i, 1, columns));
  }
  return out;
}

/// Insert `rows` (archive objects of `part`, references mapped by `map_ref`) for task `task_id`.
Rows insert_rows(Connection& c, const Dialect& d, ArchivePart part, std::int64_t task_id, const json& rows,
                 const std::vector<std::string_view>& skip,
                 const std::function<json(std::string_view, const json&)>& map_ref, const std::string& returning) {
  std::vector<ArchiveColumn> columns;
  for (const auto& col : stored_columns(part, false))
    if (std::find(skip.begin(), skip.end(), col.name) == skip.end()) columns.push_back(col);
  std::vector<std::pair<std::string, ColumnType>> typed{{"seq", ColumnType::integer}};
  for (const auto& col : columns) typed.emplace_back(std::string(col.name), column_type(col.type));
  json values = json::array();
  std::int64_t seq = 0;
  for (const json& row : rows) {
    json v = json::array({seq++});
    for (const auto& col : columns) v.push_back(element(map_ref(col.name, row[std::string(col.name)]), col));
    values.push_back(std::move(v));
  }
  if (values.empty()) return {};
  const char* table = table_of(part);
  const bool has_task = part != ArchivePart::edges;
  const std::string text =
      fmt::format("INSERT INTO {} ({}{}) SELECT {}{} FROM {} ORDER BY x.seq{}", table, has_task ? "task_id, " : "",
                  names(columns), has_task ? "$2, " : "", names(columns, "x."), d.json_rows(1, typed, "x"), returning);
  std::vector<Param> p{values.dump()};
  if (has_task) p.emplace_back(task_id);
  return c.query(text, p);
}

}  // namespace

std::size_t count_purgeable(Connection& c, const Dialect& d, const PurgeSelection& selection) {
  std::vector<Param> p;
  const std::string where = where_selected(d, selection, p);
  return static_cast<std::size_t>(c.query("SELECT COUNT(*) FROM tasker_tasks WHERE " + where, p).integer(0, 0));
}

std::vector<std::int64_t> lock_purgeable(Connection& c, const Dialect& d, const PurgeSelection& selection, int limit) {
  std::vector<Param> p;
  const std::string where = where_selected(d, selection, p);
  p.emplace_back(static_cast<std::int64_t>(limit));
  Rows r = c.query(fmt::format("SELECT id FROM tasker_tasks WHERE {} ORDER BY completed_at LIMIT ${}{}", where,
                               p.size(), d.skip_locked),
                   p);
  std::vector<std::int64_t> ids;
  for (std::size_t i = 0; i < r.size(); ++i) ids.push_back(r.integer(i, 0));
  return ids;
}

std::vector<json> archive_records(Connection& c, const Dialect& d, const std::vector<std::int64_t>& ids) {
  const Param list{id_list(ids)};
  const auto task_columns = stored_columns(ArchivePart::task, true);
  Rows tasks = c.query(fmt::format("SELECT {} FROM tasker_tasks WHERE {} ORDER BY id", names(task_columns),
                                   d.in_list("id", 1, ColumnType::integer)),
                       {&list, 1});
  std::map<ArchivePart, std::map<std::int64_t, json>> parts;
  for (ArchivePart part : {ArchivePart::steps, ArchivePart::edges, ArchivePart::transitions, ArchivePart::signals,
                           ArchivePart::dlq_entries})
    parts[part] = part_rows(c, d, part, list);
  std::vector<json> out;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const std::int64_t id = tasks.integer(i, 0);
    json record = {{"version", kArchiveFormatVersion}, {"task", row_object(tasks, i, 0, task_columns)}};
    for (auto& [part, by_task] : parts) {
      auto it = by_task.find(id);
      record[std::string(archive_key(part))] = it == by_task.end() ? json::array() : std::move(it->second);
    }
    out.push_back(std::move(record));
  }
  return out;
}

void delete_tasks(Connection& c, const Dialect& d, const std::vector<std::int64_t>& ids, bool watchers) {
  const Param list{id_list(ids)};
  const std::string tasks = d.in_list("task_id", 1, ColumnType::integer);
  // Edges first (they name steps, not tasks, and have no foreign key); the
  // steps' and signals' foreign keys would cascade, but explicit set-based
  // deletes keep each one statement whatever the count.
  c.query("DELETE FROM tasker_step_edges WHERE parent_id IN (SELECT id FROM tasker_steps WHERE " + tasks + ")",
          {&list, 1});
  c.query("DELETE FROM tasker_transitions WHERE " + tasks, {&list, 1});
  c.query("DELETE FROM tasker_signals WHERE " + tasks, {&list, 1});
  c.query("DELETE FROM tasker_dlq_entries WHERE " + tasks, {&list, 1});
  if (watchers) c.query("DELETE FROM tasker_task_watchers WHERE " + tasks, {&list, 1});
  c.query("DELETE FROM tasker_steps WHERE " + tasks, {&list, 1});
  c.query("DELETE FROM tasker_tasks WHERE " + d.in_list("id", 1, ColumnType::integer), {&list, 1});
}

ImportResult import_records(Connection& c, const Dialect& d, const std::vector<json>& records) {
  ImportResult result;
  std::vector<std::string> uuids;
  std::vector<std::string> hashes;
  for (const json& r : records) {
    uuids.push_back(r["task"]["uuid"].get<std::string>());
    if (r["task"]["identity_hash"].is_string()) hashes.push_back(r["task"]["identity_hash"].get<std::string>());
  }
  std::set<std::string> existing;
  std::set<std::string> taken;
  const Param uuid_list{text_list(uuids)};
  Rows e = c.query("SELECT uuid FROM tasker_tasks WHERE " + d.in_list("uuid", 1, ColumnType::text), {&uuid_list, 1});
  for (std::size_t i = 0; i < e.size(); ++i) existing.insert(e.text(i, 0));
  const Param hash_list{text_list(hashes)};
  Rows h = c.query("SELECT identity_hash FROM tasker_tasks WHERE " + d.in_list("identity_hash", 1, ColumnType::text),
                   {&hash_list, 1});
  for (std::size_t i = 0; i < h.size(); ++i) taken.insert(h.text(i, 0));

  const auto task_columns = stored_columns(ArchivePart::task, false);
  std::string placeholders;
  for (std::size_t k = 1; k <= task_columns.size(); ++k) placeholders += fmt::format("{}${}", k > 1 ? ", " : "", k);
  const std::string insert_task =
      fmt::format("INSERT INTO tasker_tasks ({}) VALUES ({}) RETURNING id", names(task_columns), placeholders);
  for (const json& record : records) {
    const json& task = record["task"];
    const std::string uuid = task["uuid"].get<std::string>();
    if (!existing.insert(uuid).second) {
      ++result.skipped;  // in the database already, or twice in this batch
      continue;
    }
    std::vector<Param> p;
    for (const auto& col : task_columns) {
      const json& v = task[std::string(col.name)];
      const bool drop_hash = col.name == "identity_hash" && v.is_string() && !taken.insert(v.get<std::string>()).second;
      if (v.is_null() || drop_hash)
        p.emplace_back(nullptr);
      else if (col.type == ArchiveValue::integer)
        p.emplace_back(v.get<std::int64_t>());
      else if (col.type == ArchiveValue::text)
        p.emplace_back(v.get<std::string>());
      else
        p.emplace_back(v.dump());
    }
    const std::int64_t task_id = c.query(insert_task, p).integer(0, 0);

    // Steps first, to learn their new ids (by uuid); then every reference is mapped.
    auto same = [](std::string_view, const json& v) { return v; };
    Rows s = insert_rows(c, d, ArchivePart::steps, task_id, record["steps"], {"batch_id"}, same, " RETURNING id, uuid");
    std::map<std::string, std::int64_t> by_uuid;
    for (std::size_t i = 0; i < s.size(); ++i) by_uuid[s.text(i, 1)] = s.integer(i, 0);
    std::map<std::int64_t, std::int64_t> ids;
    for (const json& step : record["steps"])
      ids[step["id"].get<std::int64_t>()] = by_uuid.at(step["uuid"].get<std::string>());
    auto mapped = [&](std::string_view name, const json& v) -> json {
      const bool ref = name == "step_id" || name == "parent_id" || name == "child_id" || name == "batch_id";
      return ref && !v.is_null() ? json(ids.at(v.get<std::int64_t>())) : v;
    };
    json batches = json::array();
    for (const json& step : record["steps"])
      if (!step["batch_id"].is_null())
        batches.push_back({mapped("step_id", step["id"]), mapped("batch_id", step["batch_id"])});
    if (!batches.empty()) {
      const std::vector<Param> bp{batches.dump()};
      c.query(fmt::format("UPDATE tasker_steps SET batch_id = x.batch_id FROM {} WHERE tasker_steps.id = x.id",
                          d.json_rows(1, {{"id", ColumnType::integer}, {"batch_id", ColumnType::integer}}, "x")),
              bp);
    }
    for (ArchivePart part :
         {ArchivePart::edges, ArchivePart::transitions, ArchivePart::signals, ArchivePart::dlq_entries}) {
      const auto rows = record.find(archive_key(part));  // dlq_entries may be left out
      if (rows != record.end()) (void)insert_rows(c, d, part, task_id, *rows, {}, mapped, "");
    }
    ++result.imported;
  }
  return result;
}

}  // namespace tasker::detail::sql
