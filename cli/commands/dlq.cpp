// tasker dlq list|show|update|stats|queue|staleness: dead-letter triage
// (docs/triage.md), in the database directly (--db) or through a service
// (--server). Workers make the entries.
#include <fmt/format.h>

#include "commands.hpp"
#include "output.hpp"
#include "remote.hpp"
#include "request.hpp"
#include "tasker/dlq.hpp"
#include "tasker/dlq_api.hpp"
#include "tasker/errors.hpp"

namespace tasker::cli {

namespace {

std::string or_dash(const std::optional<std::string>& s) { return s && !s->empty() ? *s : "-"; }

DlqResolutionStatus status_of(const std::string& text) {
  if (auto s = parse_dlq_resolution_status(text)) return *s;
  throw InvalidRequestError(fmt::format("unknown --status `{}`; use one of {}", text, dlq_resolution_status_names()));
}

void print_entry(const DlqEntry& e) {
  const json& snap = e.task_snapshot;
  fmt::print("entry       {}\n", e.dlq_entry_uuid);
  fmt::print("task        {} ({}/{}, {} when recorded)\n", e.task_uuid, snap.value("namespace", "?"),
             snap.value("task_name", "?"), e.original_state);
  fmt::print("reason      {}\nrecorded    {}\n", to_string(e.dlq_reason), format_time(e.dlq_timestamp));
  fmt::print("status      {}{}\n", to_string(e.resolution_status),
             e.resolution_timestamp ? fmt::format(" (since {})", format_time(*e.resolution_timestamp)) : "");
  fmt::print("resolved by {}\nnotes       {}\n", or_dash(e.resolved_by), or_dash(e.resolution_notes));
  for (const json& step : snap.value("failed_steps", json::array())) {
    const json error = step.value("error", json::object());
    fmt::print("failed step {} after {} of {} attempts: {}: {}\n", step.value("name", "?"), step.value("attempts", 0),
               step.value("max_attempts", 0), error.value("error_type", "?"), error.value("message", ""));
  }
  if (snap.contains("stale_step")) {
    const json& s = snap["stale_step"];
    fmt::print("stale step  {} {} for {:.0f}s (threshold {:.0f}s)\n", s.value("name", "?"), s.value("state", "?"),
               s.value("time_in_state_seconds", 0.0), s.value("staleness_threshold_seconds", 0.0));
  }
  if (!e.metadata.is_null()) fmt::print("metadata    {}\n", e.metadata.dump());
}

template <typename T>
json json_array(const std::vector<T>& items) {
  json out = json::array();
  for (const T& item : items) out.push_back(to_json(item));
  return out;
}

struct Common {
  std::string db;
  bool json{false};
};

CLI::App* add_action(CLI::App* parent, const std::string& name, const std::string& description, Common& common,
                     const std::string& example) {
  auto* cmd = parent->add_subcommand(name, description);
  add_db_option(cmd, common.db);
  cmd->add_flag("--json", common.json, "Print tasker-core's JSON shape");
  cmd->footer("Example:\n  " + example);
  return cmd;
}

}  // namespace

void add_dlq_commands(CLI::App& app, Invocation& inv) {
  auto* dlq = app.add_subcommand(
      "dlq", "Dead-letter triage: tasks that ended in error or went stale, and where their investigation stands");
  dlq->require_subcommand(1);
  dlq->footer(
      "Workers record an entry when a task ends in error, and when a step of it makes no progress for longer than\n"
      "dlq.staleness allows. Statuses: " +
      dlq_resolution_status_names() + ". Run `tasker dlq ACTION --help` (docs/triage.md).");

  {
    struct Options : Common {
      std::string status;
      int limit{50};
      long long offset{0};
    };
    auto o = std::make_shared<Options>();
    auto* cmd = add_action(dlq, "list", "List entries, newest first", *o, "tasker dlq list --status pending --json");
    cmd->add_option("--status", o->status, "Only entries of this resolution status");
    cmd->add_option("--limit", o->limit, "At most this many (1..1000, default 50)");
    cmd->add_option("--offset", o->offset, "Skip this many first (default 0)");
    cmd->callback([o, &inv] {
      DlqFilter filter;
      filter.limit = o->limit;
      filter.offset = o->offset;
      if (!o->status.empty()) filter.resolution_status = status_of(o->status);
      auto entries = open_tasks(inv, o->db, DbAccess::existing)->dlq().list_dlq(filter);
      if (o->json) return print_json(json_array(entries));
      if (entries.empty()) return fmt::print("no dead-letter entries\n");
      std::vector<std::vector<std::string>> rows;
      rows.reserve(entries.size());
      for (const auto& e : entries)
        rows.push_back({e.dlq_entry_uuid, e.task_uuid, std::string(to_string(e.dlq_reason)),
                        std::string(to_string(e.resolution_status)), format_time(e.dlq_timestamp)});
      print_table({"ENTRY", "TASK", "REASON", "STATUS", "RECORDED"}, rows);
    });
  }
  {
    struct Options : Common {
      std::string task;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = add_action(dlq, "show", "Show a task's newest entry, with its snapshot", *o,
                           "tasker dlq show 3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b");
    cmd->add_option("task", o->task, "The task's uuid")->required();
    cmd->callback([o, &inv] {
      DlqEntry e = open_tasks(inv, o->db, DbAccess::existing)->dlq().get_dlq_entry(o->task);
      if (o->json) return print_json(to_json(e));
      print_entry(e);
    });
  }
  {
    struct Options : Common {
      std::string entry, status, metadata;
      std::optional<std::string> notes, resolved_by;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = add_action(dlq, "update", "Change an entry's status, notes, who resolved it, or its metadata", *o,
                           "tasker dlq update ENTRY_UUID --status manually_resolved --notes 'partner fixed the API' "
                           "--resolved-by alice");
    cmd->add_option("entry", o->entry, "The entry's uuid (tasker dlq list)")->required();
    cmd->add_option("--status", o->status, "The new resolution status");
    cmd->add_option("--notes", o->notes, "Resolution notes (replace the old ones)");
    cmd->add_option("--resolved-by", o->resolved_by, "Who resolved it");
    cmd->add_option("--metadata", o->metadata, "Your own JSON to keep with it: JSON text, @FILE, or @- for stdin");
    cmd->callback([o, &inv] {
      DlqUpdate update;
      if (!o->status.empty()) update.resolution_status = status_of(o->status);
      update.resolution_notes = o->notes;
      update.resolved_by = o->resolved_by;
      if (!o->metadata.empty())
        update.metadata = parse_json_argument(o->metadata, "--metadata", inv.config().limits.json);
      DlqEntry e = open_tasks(inv, o->db, DbAccess::existing)->dlq().update_dlq_entry(o->entry, update);
      if (o->json)
        return print_json({{"success", true},
                           {"message", "Investigation status updated successfully"},
                           {"dlq_entry_uuid", e.dlq_entry_uuid},
                           {"entry", to_json(e)}});
      fmt::print("entry {} is {}\n", e.dlq_entry_uuid, to_string(e.resolution_status));
    });
  }
  {
    auto o = std::make_shared<Common>();
    auto* cmd = add_action(dlq, "stats", "Entries by reason and status", *o, "tasker dlq stats --json");
    cmd->callback([o, &inv] {
      auto stats = open_tasks(inv, o->db, DbAccess::existing)->dlq().dlq_stats();
      if (o->json) return print_json(json_array(stats));
      if (stats.empty()) return fmt::print("no dead-letter entries\n");
      std::vector<std::vector<std::string>> rows;
      rows.reserve(stats.size());
      for (const auto& s : stats)
        rows.push_back({std::string(to_string(s.dlq_reason)), std::to_string(s.total_entries),
                        std::to_string(s.pending), std::to_string(s.manually_resolved),
                        std::to_string(s.permanent_failures), std::to_string(s.cancelled),
                        s.avg_resolution_time_minutes ? fmt::format("{:.1f}", *s.avg_resolution_time_minutes) : "-"});
      print_table({"REASON", "TOTAL", "PENDING", "RESOLVED", "PERMANENT", "CANCELLED", "AVG MINUTES"}, rows);
    });
  }
  {
    struct Options : Common {
      int limit{50};
    };
    auto o = std::make_shared<Options>();
    auto* cmd = add_action(dlq, "queue", "Pending entries, most urgent first (tasker-core's investigation queue)", *o,
                           "tasker dlq queue --limit 20");
    cmd->add_option("--limit", o->limit, "At most this many (1..1000, default 50)");
    cmd->callback([o, &inv] {
      auto queue = open_tasks(inv, o->db, DbAccess::existing)->dlq().dlq_investigation_queue(o->limit);
      if (o->json) return print_json(json_array(queue));
      if (queue.empty()) return fmt::print("no pending dead-letter entries\n");
      std::vector<std::vector<std::string>> rows;
      rows.reserve(queue.size());
      for (const auto& q : queue)
        rows.push_back({q.dlq_entry_uuid, q.task_uuid, fmt::format("{}/{}", q.namespace_name, q.task_name),
                        std::string(to_string(q.dlq_reason)), q.current_state,
                        fmt::format("{:.0f}", q.priority_score)});
      print_table({"ENTRY", "TASK", "TEMPLATE", "REASON", "STATE NOW", "SCORE"}, rows);
    });
  }
  {
    struct Options : Common {
      int limit{50};
    };
    auto o = std::make_shared<Options>();
    auto* cmd = add_action(dlq, "staleness",
                           "Tasks with a step near or past its staleness threshold (dlq.staleness), most stale first",
                           *o, "tasker dlq staleness --server http://127.0.0.1:8080");
    cmd->add_option("--limit", o->limit, "At most this many (1..1000, default 50)");
    cmd->callback([o, &inv] {
      auto stale = open_tasks(inv, o->db, DbAccess::existing)->dlq().staleness(o->limit);
      if (o->json) return print_json(json_array(stale));
      if (stale.empty()) return fmt::print("no task is near its staleness threshold\n");
      std::vector<std::vector<std::string>> rows;
      rows.reserve(stale.size());
      for (const auto& s : stale)
        rows.push_back({s.task_uuid, s.step_name, s.current_state, fmt::format("{:.0f}s", s.time_in_state_seconds),
                        fmt::format("{:.0f}s", s.staleness_threshold_seconds),
                        std::string(to_string(s.health_status))});
      print_table({"TASK", "STEP", "STATE", "FOR", "THRESHOLD", "HEALTH"}, rows);
    });
  }
}

}  // namespace tasker::cli
