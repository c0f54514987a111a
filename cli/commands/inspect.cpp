// Reading tasks: tasker status | list | steps | audit.
#include <fmt/format.h>

#include "commands.hpp"
#include "output.hpp"
#include "remote.hpp"
#include "tasker/client.hpp"
#include "tasker/errors.hpp"
#include "views.hpp"

namespace tasker::cli {

namespace {

struct ReadOptions {
  std::string db;
  bool json{false};
};

void add_read_options(CLI::App* cmd, ReadOptions& o) {
  add_db_option(cmd, o.db);
  cmd->add_flag("--json", o.json, "Print JSON (for scripts)");
}

std::unique_ptr<Tasks> open_client(Invocation& inv, const ReadOptions& o) {
  return open_tasks(inv, o.db, DbAccess::existing);
}

std::vector<std::string> state_names() {
  std::vector<std::string> names;
  for (TaskState s : task_states()) names.emplace_back(to_string(s));
  return names;
}

void add_status(CLI::App& app, Invocation& inv) {
  struct Options : ReadOptions {
    std::string uuid;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("status", "Show a task: state, progress, step counts, timestamps and its steps");
  cmd->add_option("uuid", opts->uuid, "The task's uuid")->required();
  add_read_options(cmd, *opts);
  cmd->footer("Example:\n  tasker status 3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b --db sqlite://tasker.db");
  cmd->callback([opts, &inv] {
    auto tasks = open_client(inv, *opts);
    testing::TaskApi& client = tasks->api();
    const TaskSnapshot snap = client.snapshot(opts->uuid);
    if (opts->json) return print_json(task_with_steps(snap.task, snap.steps));
    for (const auto& line : task_summary(snap.task)) fmt::print("{}\n", line);
    fmt::print("\n");
    for (const auto& line : step_table(snap.steps, SystemClock::instance().now(), 60)) fmt::print("{}\n", line);
  });
}

void add_list(CLI::App& app, Invocation& inv) {
  struct Options : ReadOptions {
    std::string namespace_name;
    std::string status;
    int limit{50};
    std::string cursor;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("list", "List tasks, newest first");
  cmd->add_option("--namespace", opts->namespace_name, "Only tasks of this namespace");
  cmd->add_option("--status", opts->status, "Only tasks in this state")->check(CLI::IsMember(state_names()));
  cmd->add_option("--limit", opts->limit, "Most tasks to show (1..1000)")->check(CLI::Range(1, 1000));
  cmd->add_option("--cursor", opts->cursor, "Continue after the previous page (its next_cursor)");
  add_read_options(cmd, *opts);
  cmd->footer("Example:\n  tasker list --status error --namespace ecommerce --limit 20");
  cmd->callback([opts, &inv] {
    auto tasks = open_client(inv, *opts);
    testing::TaskApi& client = tasks->api();
    TaskFilter filter;
    if (!opts->namespace_name.empty()) filter.namespace_name = opts->namespace_name;
    if (!opts->status.empty()) filter.state = parse_task_state(opts->status);
    filter.limit = opts->limit;
    if (!opts->cursor.empty()) filter.cursor = opts->cursor;
    TaskPage page = client.list_tasks(filter);
    if (opts->json) {
      json out = {{"tasks", json::array()}, {"next_cursor", page.next_cursor ? json(*page.next_cursor) : json()}};
      for (const auto& t : page.tasks) out["tasks"].push_back(to_json(t));
      return print_json(out);
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& t : page.tasks)
      rows.push_back({t.uuid, template_of(t), std::string(to_string(t.state)),
                      fmt::format("{:.0f}% ({}/{})", t.completion_percentage, t.counts.completed, t.counts.total),
                      format_time(t.created_at)});
    print_table({"UUID", "TEMPLATE", "STATE", "PROGRESS", "CREATED"}, rows);
    if (page.next_cursor) fmt::print(stderr, "more tasks: tasker list --cursor {}\n", *page.next_cursor);
  });
}

void add_steps(CLI::App& app, Invocation& inv) {
  struct Options : ReadOptions {
    std::string uuid;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("steps", "List a task's steps with dependencies, attempts, retries and errors");
  cmd->add_option("uuid", opts->uuid, "The task's uuid")->required();
  add_read_options(cmd, *opts);
  cmd->footer(
      "Example:\n  tasker steps 3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b --json | jq '.[] | {name, "
      "state}'");
  cmd->callback([opts, &inv] {
    auto tasks = open_client(inv, *opts);
    testing::TaskApi& client = tasks->api();
    std::vector<StepView> steps = client.list_steps(opts->uuid);
    if (opts->json) {
      json out = json::array();
      for (const auto& s : steps) out.push_back(to_json(s));
      return print_json(out);
    }
    const TimePoint now = SystemClock::instance().now();
    std::vector<std::vector<std::string>> rows;
    rows.reserve(steps.size());
    for (const auto& s : steps)
      rows.push_back({s.name, std::string(to_string(s.state)), attempts_of(s), s.callable,
                      s.dependencies.empty() ? "-" : fmt::format("{}", fmt::join(s.dependencies, ",")),
                      duration_of(s, now), s.next_retry_at ? format_time(*s.next_retry_at) : "",
                      s.error ? shorten(fmt::format("{}: {}", s.error->error_type, s.error->message), 100) : ""});
    print_table({"STEP", "STATE", "ATTEMPTS", "CALLABLE", "DEPENDS ON", "DURATION", "NEXT RETRY", "LAST ERROR"}, rows);
  });
}

void add_audit(CLI::App& app, Invocation& inv) {
  struct Options : ReadOptions {
    std::string uuid;
    std::string step;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("audit", "Show the transition history of a task, or of one of its steps");
  cmd->add_option("uuid", opts->uuid, "The task's uuid")->required();
  cmd->add_option("step", opts->step, "Only this step's transitions");
  add_read_options(cmd, *opts);
  cmd->footer("Example:\n  tasker audit 3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b process_payment");
  cmd->callback([opts, &inv] {
    auto tasks = open_client(inv, *opts);
    testing::TaskApi& client = tasks->api();
    auto transitions =
        client.transitions(opts->uuid, opts->step.empty() ? std::nullopt : std::optional<std::string>(opts->step));
    if (opts->json) {
      json out = json::array();
      for (const auto& t : transitions) out.push_back(to_json(t));
      return print_json(out);
    }
    std::vector<std::vector<std::string>> rows;
    rows.reserve(transitions.size());
    for (const auto& t : transitions) rows.push_back(transition_cells(t));
    print_table({"AT", "STEP", "TRANSITION", "ATTEMPT", "WORKER", "REASON"}, rows);
  });
}

}  // namespace

void add_inspect_commands(CLI::App& app, Invocation& inv) {
  add_status(app, inv);
  add_list(app, inv);
  add_steps(app, inv);
  add_audit(app, inv);
}

}  // namespace tasker::cli
