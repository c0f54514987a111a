// tasker schedule create|update|list|show|pause|resume|delete|trigger: cron
// schedules stored in the database (docs/schedules.md), in it directly (--db)
// or through a service (--server). Workers fire them.
#include <fmt/format.h>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "output.hpp"
#include "remote.hpp"
#include "request.hpp"
#include "tasker/schedule.hpp"
#include "tasker/schedule_api.hpp"

namespace tasker::cli {

namespace {

std::string time_or_dash(const std::optional<TimePoint>& t) { return t ? format_time(*t) : "-"; }

void print_schedule(const ScheduleView& s) {
  fmt::print("schedule  {}{}\n", s.name, s.paused ? " (paused)" : "");
  fmt::print("template  {}/{}@{}\n", s.namespace_name, s.task_name, s.version);
  fmt::print("cron      {} ({})\n", s.cron, s.time_zone);
  fmt::print("overlap   {}\ncatch-up  {}\n", to_string(s.overlap), to_string(s.catch_up));
  fmt::print("next tick {}\nlast tick {}\n", s.paused ? "- (paused)" : time_or_dash(s.next_tick),
             time_or_dash(s.last_tick));
  fmt::print("last task {}\ncontext   {}\n", s.last_task_uuid.empty() ? "-" : s.last_task_uuid, s.context.dump());
}

/// `schedule pause|resume|delete|trigger|show NAME`: one schedule named, one action.
void add_named_action(CLI::App* parent, Invocation& inv, const std::string& name, const std::string& description,
                      const std::string& example,
                      std::function<void(testing::ScheduleApi&, const std::string&, bool)> action) {
  struct Options {
    std::string name;
    std::string db;
    bool json{false};
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = parent->add_subcommand(name, description);
  cmd->add_option("name", opts->name, "The schedule's name")->required();
  add_db_option(cmd, opts->db);
  cmd->add_flag("--json", opts->json, "Print the result as JSON");
  cmd->footer("Example:\n  " + example);
  cmd->callback([opts, &inv, action = std::move(action)] {
    auto tasks = open_tasks(inv, opts->db, DbAccess::existing);
    action(tasks->schedules(), opts->name, opts->json);
  });
}

void print_view(const ScheduleView& s, bool json) {
  if (json) return print_json(to_json(s));
  print_schedule(s);
}

}  // namespace

void add_schedule_commands(CLI::App& app, Invocation& inv) {
  auto* schedule = app.add_subcommand(
      "schedule", "Cron schedules stored in the database: create, update, list, show, pause, resume, delete, trigger");
  schedule->require_subcommand(1);
  schedule->footer(
      "Every worker (`tasker worker`, or a host's Worker) fires due schedules; each tick creates exactly one task,\n"
      "whatever the number of workers. Run `tasker schedule ACTION --help` for an action's options "
      "(docs/schedules.md).");

  {
    struct Options {
      std::string name;
      std::string target;
      TemplateOptions templates;
      std::string cron;
      std::string time_zone{"UTC"};
      std::string context{"{}"};
      std::string overlap{"allow"};
      std::string catch_up{"latest"};
      bool paused{false};
      std::string db;
      bool json{false};
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = schedule->add_subcommand("create", "Create a schedule of a template");
    cmd->add_option("name", opts->name, "The schedule's name: letters, digits, _ - .")->required();
    cmd->add_option("template", opts->target,
                    "NAMESPACE/NAME[@VERSION] (default version: the latest, pinned now), or a template file")
        ->required();
    add_template_options(cmd, opts->templates);
    cmd->add_option("--cron", opts->cron,
                    "5 fields (minute hour day-of-month month day-of-week) or 6 (a second first); names, ranges, "
                    "lists, steps, @daily ...")
        ->required();
    cmd->add_option("--timezone", opts->time_zone, "IANA time zone the cron fields are read in (default: UTC)");
    cmd->add_option("--context", opts->context, "Every task's context: JSON text, @FILE, or @- for stdin");
    cmd->add_option("--overlap", opts->overlap,
                    "allow (default): every tick creates a task; skip: none while the previous one is unfinished")
        ->check(CLI::IsMember({"allow", "skip"}));
    cmd->add_option("--catch-up", opts->catch_up,
                    "After downtime: none drops missed ticks, latest (default) runs the latest once, all runs each "
                    "(at most 1000)")
        ->check(CLI::IsMember({"none", "latest", "all"}));
    cmd->add_flag("--paused", opts->paused, "Create it paused (`tasker schedule resume NAME` starts it)");
    add_db_option(cmd, opts->db);
    cmd->add_flag("--json", opts->json, "Print the schedule as JSON");
    cmd->footer(
        "Examples:\n"
        "  tasker schedule create nightly-export reports/export --cron '0 2 * * *' --timezone Europe/Berlin\n"
        "  tasker schedule create heartbeat linear_workflow/mathematical_sequence --cron '*/10 * * * * *' \\\n"
        "      --context '{\"even_number\": 6}' --overlap skip --catch-up none");
    cmd->callback([opts, &inv] {
      // Everything is read and checked before the database is touched. Through a
      // service, the service resolves the template; here, the local templates do.
      ScheduleRequest request;
      request.context = parse_json_argument(opts->context, "--context", inv.config().limits.json);
      auto tasks = open_tasks(inv, opts->db, DbAccess::create, [&] {
        ResolvedTemplate resolved = resolve_template(inv, opts->target, opts->templates.paths, opts->templates.env);
        request.namespace_name = resolved.tmpl->namespace_name;
        request.task_name = resolved.tmpl->name;
        request.version = resolved.tmpl->version;
        return resolved.set;
      });
      if (tasks->remote()) {
        const TemplateRef ref = TemplateRef::parse(opts->target);
        request.namespace_name = ref.namespace_name;
        request.task_name = ref.name;
        request.version = ref.version;
      }
      request.name = opts->name;
      request.cron = opts->cron;
      request.time_zone = opts->time_zone;
      request.overlap = parse_schedule_overlap(opts->overlap).value_or(ScheduleOverlap::allow);
      request.catch_up = parse_schedule_catch_up(opts->catch_up).value_or(ScheduleCatchUp::latest);
      request.paused = opts->paused;
      ScheduleView s = tasks->schedules().create_schedule(request);
      if (opts->json) return print_json(to_json(s));
      fmt::print("schedule {} created; next tick {}\n", s.name, s.paused ? "- (paused)" : time_or_dash(s.next_tick));
    });
  }

  {
    struct Options {
      std::string name;
      std::optional<std::string> cron, time_zone, context, overlap, catch_up;
      std::string db;
      bool json{false};
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = schedule->add_subcommand("update", "Change a schedule's cron, time zone, context, overlap or catch-up");
    cmd->add_option("name", opts->name, "The schedule's name")->required();
    cmd->add_option("--cron", opts->cron, "A new cron expression (the next tick is computed from now)");
    cmd->add_option("--timezone", opts->time_zone, "A new IANA time zone (the next tick is computed from now)");
    cmd->add_option("--context", opts->context, "A new context for its tasks: JSON text, @FILE, or @- for stdin");
    cmd->add_option("--overlap", opts->overlap, "allow or skip")->check(CLI::IsMember({"allow", "skip"}));
    cmd->add_option("--catch-up", opts->catch_up, "none, latest or all")
        ->check(CLI::IsMember({"none", "latest", "all"}));
    add_db_option(cmd, opts->db);
    cmd->add_flag("--json", opts->json, "Print the schedule as JSON");
    cmd->footer(
        "Example:\n  tasker schedule update nightly-export --cron '30 3 * * *' --timezone America/New_York\n"
        "The template stays the one pinned at creation: to run another version, delete the schedule and create it "
        "again.");
    cmd->callback([opts, &inv] {
      ScheduleUpdate update;
      update.cron = opts->cron;
      update.time_zone = opts->time_zone;
      if (opts->context) update.context = parse_json_argument(*opts->context, "--context", inv.config().limits.json);
      if (opts->overlap) update.overlap = parse_schedule_overlap(*opts->overlap);
      if (opts->catch_up) update.catch_up = parse_schedule_catch_up(*opts->catch_up);
      if (!update.cron && !update.time_zone && !update.context && !update.overlap && !update.catch_up)
        throw UsageError(
            "nothing to change: give --cron, --timezone, --context, --overlap or --catch-up (pause and resume are "
            "`tasker schedule pause|resume NAME`)");
      print_view(open_tasks(inv, opts->db, DbAccess::existing)->schedules().update_schedule(opts->name, update),
                 opts->json);
    });
  }

  {
    struct Options {
      std::string db;
      bool json{false};
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = schedule->add_subcommand("list", "List the schedules: template, cron, next tick, last task");
    add_db_option(cmd, opts->db);
    cmd->add_flag("--json", opts->json, "Print the schedules as a JSON array");
    cmd->footer("Example:\n  tasker schedule list --db postgresql://tasker@db/tasker");
    cmd->callback([opts, &inv] {
      auto schedules = open_tasks(inv, opts->db, DbAccess::existing)->schedules().list_schedules();
      if (opts->json) {
        json out = json::array();
        for (const auto& s : schedules) out.push_back(to_json(s));
        return print_json(out);
      }
      std::vector<std::vector<std::string>> rows;
      rows.reserve(schedules.size());
      for (const auto& s : schedules)
        rows.push_back({s.name, fmt::format("{}/{}@{}", s.namespace_name, s.task_name, s.version), s.cron, s.time_zone,
                        s.paused ? "paused" : time_or_dash(s.next_tick),
                        s.last_task_uuid.empty() ? "-" : s.last_task_uuid});
      if (rows.empty()) return fmt::print("no schedules (create one with `tasker schedule create`)\n");
      print_table({"NAME", "TEMPLATE", "CRON", "TIME ZONE", "NEXT TICK", "LAST TASK"}, rows);
    });
  }

  add_named_action(
      schedule, inv, "show", "Show a schedule", "tasker schedule show nightly-export --json",
      [](testing::ScheduleApi& c, const std::string& name, bool json) { print_view(c.get_schedule(name), json); });
  add_named_action(
      schedule, inv, "pause", "Pause a schedule: it fires nothing until resumed",
      "tasker schedule pause nightly-export",
      [](testing::ScheduleApi& c, const std::string& name, bool json) { print_view(c.pause_schedule(name), json); });
  add_named_action(
      schedule, inv, "resume", "Resume a paused schedule from its next tick after now (passed ticks are not made up)",
      "tasker schedule resume nightly-export",
      [](testing::ScheduleApi& c, const std::string& name, bool json) { print_view(c.resume_schedule(name), json); });
  add_named_action(schedule, inv, "delete", "Delete a schedule; the tasks it created stay",
                   "tasker schedule delete nightly-export",
                   [](testing::ScheduleApi& c, const std::string& name, bool json) {
                     c.delete_schedule(name);
                     if (json) return print_json({{"name", name}, {"deleted", true}});
                     fmt::print("schedule {} deleted\n", name);
                   });
  add_named_action(schedule, inv, "trigger", "Create a task from a schedule now, outside its cron; print its uuid",
                   "tasker schedule trigger nightly-export",
                   [](testing::ScheduleApi& c, const std::string& name, bool json) {
                     TaskView task = c.trigger_schedule(name);
                     if (json) return print_json(to_json(task));
                     fmt::print("{}\n", task.uuid);
                   });
}

}  // namespace tasker::cli
