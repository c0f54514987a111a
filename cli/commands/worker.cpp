// tasker worker: run the templates' command handlers until stopped.
// tasker run: submit a task and work it to the end in this process.
#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "live_view.hpp"
#include "output.hpp"
#include "request.hpp"
#include "signals.hpp"
#include "tasker/client.hpp"
#include "tasker/command_handler.hpp"
#include "tasker/errors.hpp"
#include "tasker/server.hpp"
#include "tasker/worker.hpp"

namespace tasker::cli {

namespace {

std::vector<std::string> event_mode_names() {
  std::vector<std::string> names;
  for (auto m : {EventMode::polling_only, EventMode::event_driven, EventMode::hybrid}) names.emplace_back(to_string(m));
  return names;
}

/// The options a worker takes on the command line; unset ones come from configuration.
struct WorkerFlags {
  int concurrency{0};
  std::vector<std::string> namespaces;
  long long lease_ms{0};
  std::string event_mode;
  long long stop_grace_ms{10'000};
  bool no_schedules{false};
  bool no_retention{false};
};

void add_worker_flags(CLI::App* cmd, WorkerFlags& f, bool with_namespaces) {
  cmd->add_option("--concurrency", f.concurrency, "Handler threads (default: configuration, else 4)")
      ->check(CLI::Range(1, 1024));
  if (with_namespaces) {
    cmd->add_option("--namespace", f.namespaces,
                    "Only run steps of tasks in this namespace (repeatable; default: all)");
    cmd->add_flag("--no-schedules", f.no_schedules,
                  "Do not fire due cron schedules from this worker (default: configuration's worker.schedules, "
                  "else fire them; docs/schedules.md)");
    cmd->add_flag("--no-retention", f.no_retention,
                  "Do not purge finished tasks by the configured retention policy from this worker (default: "
                  "configuration's worker.retention, else purge them; docs/retention.md)");
  }
  cmd->add_option("--lease-ms", f.lease_ms,
                  "A claim's lease; a crashed worker's steps are retried after it (default 30000)")
      ->check(CLI::Range(100LL, 24LL * 3600 * 1000));
  cmd->add_option("--event-mode", f.event_mode, "How work is noticed: polling_only, event_driven or hybrid (default)")
      ->check(CLI::IsMember(event_mode_names()));
  cmd->add_option("--stop-grace-ms", f.stop_grace_ms,
                  "On SIGINT/SIGTERM, how long running handlers may finish before they are killed "
                  "and their steps "
                  "handed back")
      ->check(CLI::Range(0LL, 3600LL * 1000));
}

WorkerOptions worker_options(Invocation& inv, const WorkerFlags& f) {
  WorkerOptions o = WorkerOptions::from(inv.config());
  if (f.concurrency > 0) o.concurrency = f.concurrency;
  if (f.lease_ms > 0) o.lease = std::chrono::milliseconds{f.lease_ms};
  if (f.no_schedules) o.fire_schedules = false;
  if (f.no_retention) o.apply_retention = false;
  for (auto m : {EventMode::polling_only, EventMode::event_driven, EventMode::hybrid})
    if (to_string(m) == f.event_mode) o.event_mode = m;
  o.namespaces = f.namespaces;
  o.stop_grace = std::chrono::milliseconds{f.stop_grace_ms};
  return o;
}

/// A registry with a command handler for every step of `set` that has one. Throws TemplateError
/// when a program is missing, InvalidRequestError when no step has a command and none waits.
std::shared_ptr<HandlerRegistry> command_handlers(Invocation& inv, const TemplateSet& set, const std::string& where) {
  auto registry = std::make_shared<HandlerRegistry>();
  const auto templates = set.all();
  const bool any_waits = std::any_of(templates.begin(), templates.end(), [](const TaskTemplate* t) {
    return std::any_of(t->steps.begin(), t->steps.end(), [](const StepTemplate& s) { return s.waits(); });
  });
  if (register_command_handlers(*registry, set, inv.config().limits.json).empty() && !any_waits)
    throw InvalidRequestError(
        fmt::format("no step of the {} template{} in {} has a `handler.command` or waits (type signal or sleep), "
                    "so this worker would have nothing to run; "
                    "give steps a command (see docs/handlers.md) or point --templates at the "
                    "templates that have them",
                    set.size(), set.size() == 1 ? "" : "s", where));
  return registry;
}

/// Fails when the worker's loop has ended on its own (it logs why).
void check_alive(const Worker& worker) {
  if (!worker.running())
    throw Error(fmt::format("the worker stopped unexpectedly: {}",
                            worker.failure().empty() ? "see the log lines above" : worker.failure()));
}

void add_worker(CLI::App& app, Invocation& inv) {
  struct Options {
    std::string db;
    bool json{false};
    TemplateOptions templates;
    WorkerFlags flags;
    std::string listen;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("worker", "Run the command handlers of the templates' steps until SIGINT or SIGTERM");
  add_template_options(cmd, opts->templates);
  add_worker_flags(cmd, opts->flags, true);
  add_db_option(cmd, opts->db);
  cmd->add_option("--listen", opts->listen,
                  "Also serve /health, /health/ready, /metrics and /v1/templates (what this worker runs) on "
                  "HOST:PORT (docs/api.md)");
  cmd->add_flag("--json", opts->json, "When stopped, print the worker's counters as JSON on stdout");
  cmd->footer(
      "Example:\n  tasker worker --db sqlite://shop.db --templates examples/command_handlers "
      "--concurrency 8\n"
      "Steps with `handler.command` run as processes (docs/handlers.md); signal and sleep steps wait here\n"
      "as in every worker; other steps are left to other workers.\n"
      "Log lines go to stderr (--log-level info shows the worker's life cycle). On SIGINT or "
      "SIGTERM the worker\n"
      "stops claiming, lets running handlers finish (--stop-grace-ms), hands back what it holds, "
      "and exits 0.");
  cmd->callback([opts, &inv] {
    SignalWaiter signals;  // before any thread starts, so only wait() receives SIGINT/SIGTERM
    std::vector<std::string> folders;
    for (const auto& p : template_paths(inv, opts->templates.paths)) folders.push_back(p.string());
    std::string where = fmt::format("{}", fmt::join(folders, ", "));
    auto set = std::make_shared<TemplateSet>(load_template_set(inv, opts->templates.paths, opts->templates.env));
    auto handlers = command_handlers(inv, *set, where);
    WorkerOptions worker_opts = worker_options(inv, opts->flags);
    std::optional<ServerSettings> serve;
    if (!opts->listen.empty()) serve = server_settings(inv, opts->listen);
    auto store = open_database(inv, opts->db, DbAccess::create, worker_opts.event_mode != EventMode::polling_only);
    auto events = std::make_shared<EventBus>();
    auto shared_worker = std::make_shared<Worker>(store, handlers, worker_opts, events);
    Worker& worker = *shared_worker;
    std::unique_ptr<WorkerServer> endpoints;
    if (serve)  // before start(), so a bad address or TLS file fails before any step is claimed
      endpoints = std::make_unique<WorkerServer>(
          WorkerServerSources{shared_worker, handlers, set, std::make_shared<Client>(store, set, client_options(inv)),
                              events, worker_opts.namespaces},
          *serve);
    worker.start();
    if (endpoints) {
      endpoints->start();
      std::cout << endpoints->url() << std::endl;
    }
    fmt::print(stderr, "tasker worker {}: {} command handler{} on {}{}; stop with Ctrl-C or SIGTERM\n", worker.id(),
               handlers->size(), handlers->size() == 1 ? "" : "s", store->describe(),
               endpoints ? fmt::format("; endpoints on {}", endpoints->url()) : "");
    while (!signals.wait(std::chrono::milliseconds{500})) check_alive(worker);
    if (endpoints) endpoints->stop();
    fmt::print(stderr, "tasker worker {}: {} received, stopping\n", worker.id(), signal_name(signals.received()));
    worker.stop();
    WorkerStats s = worker.stats();
    fmt::print(stderr, "tasker worker {}: stopped; {} steps claimed, {} succeeded, {} failed, {} discarded\n",
               worker.id(), s.claimed, s.succeeded, s.failed, s.discarded);
    if (opts->json)
      print_json({{"worker_id", worker.id()},
                  {"claimed", s.claimed},
                  {"succeeded", s.succeeded},
                  {"failed", s.failed},
                  {"discarded", s.discarded},
                  {"reclaimed", s.reclaimed}});
  });
}

void add_run(CLI::App& app, Invocation& inv) {
  struct Options {
    std::string db;
    RequestOptions request;
    WorkerFlags flags;
    ViewOptions view{100};
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("run", "Submit a task and run its command handlers in this process until it ends");
  add_request_options(cmd, opts->request);
  add_worker_flags(cmd, opts->flags, false);
  add_view_options(cmd, opts->view);
  add_db_option(cmd, opts->db);
  cmd->footer(
      "Example:\n  tasker run examples/command_handlers/order_processing.yaml "
      "--context @examples/command_handlers/context.json\n"
      "Every step but a signal or sleep step must have a `handler.command` (docs/handlers.md). Exit code 0\n"
      "when the task completes, 5 when it "
      "fails or is cancelled, 130 when interrupted (the task stays in the database; `tasker "
      "worker` finishes it).\n"
      "The worker of `run` runs this task's steps only, even on a shared database.");
  cmd->callback([opts, &inv] {
    SignalWaiter signals;
    ResolvedTemplate resolved = resolve_template(inv, opts->request);
    const TaskTemplate& tmpl = *resolved.tmpl;
    TaskRequest request = make_request(opts->request, tmpl, inv.config().limits.json);
    for (const auto& step : tmpl.steps)
      if (step.handler.command.empty() && !step.waits() &&
          std::find(request.bypass_steps.begin(), request.bypass_steps.end(), step.name) == request.bypass_steps.end())
        throw InvalidRequestError(
            fmt::format("{}:{}: step `{}` of {} has no `handler.command`, and `tasker run` runs command "
                        "handlers only; give it a "
                        "command (docs/handlers.md), leave it out with --bypass {}, or run the task with your "
                        "application's worker",
                        step.location.file, step.location.line, step.name, tmpl.qualified_name(), step.name));
    TemplateSet only;  // the task's own handlers: other templates' commands are not this run's business
    only.add(tmpl);
    auto handlers = command_handlers(inv, only, tmpl.location.file);
    WorkerOptions worker_opts = worker_options(inv, opts->flags);
    worker_opts.validate();  // before anything is written
    auto store = open_database(inv, opts->db, DbAccess::create, worker_opts.event_mode != EventMode::polling_only);
    Client client(store, resolved.set, client_options(inv));
    TaskView task = client.submit(request);
    worker_opts.task_uuids = {task.uuid};
    worker_opts.fire_schedules = false;  // this one task only: schedules and retention are the workers' business
    worker_opts.apply_retention = false;
    Worker worker(store, handlers, worker_opts);
    worker.start();
    FollowOptions follow = follow_options(opts->view);
    follow.on_tick = [&worker] { check_alive(worker); };
    testing::ClientApi tasks(client);
    follow_to_outcome(tasks, task.uuid, follow, signals, opts->view.json,
                      fmt::format("its running steps were handed back; finish it with `tasker worker --db {} "
                                  "--templates {}`",
                                  store->describe(), tmpl.location.file));
  });
}

}  // namespace

void add_worker_commands(CLI::App& app, Invocation& inv) {
  add_worker(app, inv);
  add_run(app, inv);
}

}  // namespace tasker::cli
