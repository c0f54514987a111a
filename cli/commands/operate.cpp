// Operator actions: tasker cancel | signal | rerun | step reset | step rerun | step resolve | step complete.
#include <fmt/format.h>

#include "commands.hpp"
#include "output.hpp"
#include "remote.hpp"
#include "request.hpp"
#include "tasker/client.hpp"
#include "views.hpp"

namespace tasker::cli {

namespace {

struct StepActionOptions {
  std::string uuid;
  std::string step;
  std::string reason;
  std::string result;
  std::string db;
  bool json{false};
};

using StepAction = std::function<StepView(testing::TaskApi&, const StepActionOptions&)>;

void add_step_action(CLI::App& parent, Invocation& inv, const std::string& name, const std::string& description,
                     const std::string& example, bool takes_result, StepAction action) {
  auto opts = std::make_shared<StepActionOptions>();
  auto* cmd = parent.add_subcommand(name, description);
  cmd->add_option("uuid", opts->uuid, "The task's uuid")->required();
  cmd->add_option("step", opts->step, "The step's name")->required();
  if (takes_result)
    cmd->add_option("--result", opts->result, "The step's result: JSON text, @FILE, or @- for stdin")->required();
  cmd->add_option("--reason", opts->reason, "Why (recorded in the step's history)");
  add_db_option(cmd, opts->db);
  cmd->add_flag("--json", opts->json, "Print the step as JSON");
  cmd->footer("Example:\n  " + example);
  cmd->callback([opts, &inv, action = std::move(action), name] {
    auto tasks = open_tasks(inv, opts->db, DbAccess::existing);
    StepView step = action(tasks->api(), *opts);
    if (opts->json) return print_json(to_json(step));
    fmt::print("step `{}` of task {}: {} (after {})\n", step.name, step.task_uuid, to_string(step.state), name);
  });
}

std::string reason_or(const StepActionOptions& o, const char* fallback) {
  return o.reason.empty() ? fallback : o.reason;
}

}  // namespace

void add_operator_commands(CLI::App& app, Invocation& inv) {
  {
    struct Options {
      std::string uuid;
      std::string reason;
      std::string db;
      bool json{false};
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("cancel", "Cancel a task: every unfinished step is cancelled");
    cmd->add_option("uuid", opts->uuid, "The task's uuid")->required();
    cmd->add_option("--reason", opts->reason, "Why (recorded in the task's history)");
    add_db_option(cmd, opts->db);
    cmd->add_flag("--json", opts->json, "Print the task as JSON");
    cmd->footer(
        "Example:\n  tasker cancel 3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b --reason 'customer "
        "withdrew the order'\n"
        "Running attempts are not killed at once: their results are discarded when they report.");
    cmd->callback([opts, &inv] {
      auto tasks = open_tasks(inv, opts->db, DbAccess::existing);
      TaskView task = tasks->api().cancel(opts->uuid, opts->reason.empty() ? "cancelled by operator" : opts->reason);
      if (opts->json) return print_json(to_json(task));
      fmt::print("task {} {}: {} of {} steps cancelled\n", task.uuid, to_string(task.state), task.counts.cancelled,
                 task.counts.total);
    });
  }

  {
    struct Options {
      std::string uuid;
      std::string name;
      std::string payload{"{}"};
      std::string key;
      std::string db;
      bool json{false};
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("signal", "Send a signal to a task: the signal step waiting for it completes");
    cmd->add_option("uuid", opts->uuid, "The task's uuid")->required();
    cmd->add_option("name", opts->name, "The signal's name (the `signal.name` of the step that waits for it)")
        ->required();
    cmd->add_option("--payload", opts->payload,
                    "The waiting step's result: a JSON object as text, @FILE, or @- for stdin (default: {})");
    auto* key_option =
        cmd->add_option("--key", opts->key, "Deliver once: the same key again for this task changes nothing");
    add_db_option(cmd, opts->db);
    cmd->add_flag("--json", opts->json, "Print {\"status\": ...} as JSON");
    cmd->footer(
        "Example:\n  tasker signal 3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b approval --payload '{\"approved\": true}' "
        "--key approval-42\n"
        "Status: delivered (a step was waiting and completed), buffered (kept until its step waits), duplicate "
        "(the key was seen: nothing changed). Exit 3: no such task or signal step; 4: a finished task, or a bad "
        "payload.");
    cmd->callback([opts, &inv, key_option] {
      const json payload = parse_json_argument(opts->payload, "--payload", inv.config().limits.json);
      auto tasks = open_tasks(inv, opts->db, DbAccess::existing);
      // An empty --key (an unset variable: --key "$ID") is refused, not sent without its key.
      std::optional<std::string> key;
      if (key_option->count() > 0) key = opts->key;
      const SignalStatus status = tasks->api().signal(opts->uuid, opts->name, payload, key);
      if (opts->json) return print_json({{"status", to_string(status)}});
      fmt::print("signal `{}` to task {}: {}\n", opts->name, opts->uuid, to_string(status));
    });
  }
  {
    struct Options {
      std::string uuid;
      std::string reason;
      TemplateOptions templates;
      std::string db;
      bool json{false};
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("rerun", "Submit a task again as a new one, linked to it; print the new uuid");
    cmd->add_option("uuid", opts->uuid, "The original task's uuid")->required();
    cmd->add_option("--reason", opts->reason, "Why (recorded in the new task's reason)");
    add_template_options(cmd, opts->templates);
    add_db_option(cmd, opts->db);
    cmd->add_flag("--json", opts->json, "Print the new task as JSON");
    cmd->footer(
        "Example:\n  tasker rerun 3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b --reason 'the partner fixed their API'\n"
        "The new task has the same template version, context, priority, tags and correlation id, and the tag\n"
        "rerun-of:UUID. To run some steps of the same task again, see `tasker step rerun`.");
    cmd->callback([opts, &inv] {
      // Through the database, the task's template must be among the local templates (--templates).
      auto tasks = open_tasks(inv, opts->db, DbAccess::existing, [&] {
        return std::make_shared<const TemplateSet>(load_template_set(inv, opts->templates.paths, opts->templates.env));
      });
      TaskView task = tasks->api().rerun_task(opts->uuid, opts->reason.empty() ? "rerun by operator" : opts->reason);
      if (opts->json) return print_json(to_json(task));
      fmt::print("{}\n", task.uuid);
    });
  }
  auto* step = app.add_subcommand("step", "Operator actions on one step: reset, rerun, resolve, complete");
  step->require_subcommand(1);
  step->footer("Run `tasker step ACTION --help` for an action's options.");
  add_step_action(*step, inv, "reset", "Give a failed step a fresh set of attempts; the task resumes",
                  "tasker step reset 3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b process_payment --reason 'gateway "
                  "fixed'",
                  false, [](testing::TaskApi& c, const StepActionOptions& o) {
                    return c.reset_step_for_retry(o.uuid, o.step, reason_or(o, "reset by operator"));
                  });
  add_step_action(*step, inv, "rerun",
                  "Run a finished or failed step again, and every step that depends on it; the others keep their "
                  "results",
                  "tasker step rerun 3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b update_inventory --reason 'stock was "
                  "recounted'\n"
                  "Attempt numbers keep counting; each rerun step has its whole retry budget again. Exit 4 while one\n"
                  "of them runs on a worker, or for a decision or batch step (submit the task again instead).",
                  false, [](testing::TaskApi& c, const StepActionOptions& o) {
                    return c.rerun_step(o.uuid, o.step, reason_or(o, "rerun by operator"));
                  });
  add_step_action(*step, inv, "resolve",
                  "Mark a step done without a result; its dependents proceed (use `complete` to give a result)",
                  "tasker step resolve 3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b send_confirmation --reason 'sent "
                  "by hand'",
                  false, [](testing::TaskApi& c, const StepActionOptions& o) {
                    return c.resolve_step_manually(o.uuid, o.step, reason_or(o, "resolved by operator"));
                  });
  add_step_action(*step, inv, "complete", "Mark a step complete with a result; its dependents see that result",
                  "tasker step complete 3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b process_payment "
                  "--result '{\"payment_id\": \"pay_manual\"}'",
                  true, [&inv](testing::TaskApi& c, const StepActionOptions& o) {
                    json result = parse_json_argument(o.result, "--result", inv.config().limits.json);
                    return c.complete_step_manually(o.uuid, o.step, result, reason_or(o, "completed by operator"));
                  });
}

}  // namespace tasker::cli
