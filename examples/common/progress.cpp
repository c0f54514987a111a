#include "progress.hpp"

#include <fmt/format.h>

namespace example {

ProgressPrinter::ProgressPrinter(tasker::EventBus& bus,
                                 std::function<std::string(const std::string&, const tasker::json&)> describe_result)
    : bus_(bus), describe_result_(std::move(describe_result)) {
  subscription_ = bus_.subscribe("*", [this](const tasker::LifecycleEvent& e) { print(e); });
}

ProgressPrinter::~ProgressPrinter() { bus_.unsubscribe(subscription_); }

void ProgressPrinter::follow(const std::string& task_uuid) {
  std::lock_guard lock(mutex_);
  task_uuid_ = task_uuid;
}

void ProgressPrinter::print(const tasker::LifecycleEvent& e) {
  std::lock_guard lock(mutex_);
  if (e.task_uuid != task_uuid_) return;
  double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const tasker::json& p = e.payload;
  std::string line;
  namespace ev = tasker::events;
  if (e.name == ev::kStepStarted)
    line = fmt::format("{:<18} started (attempt {})", e.step_name, p.value("attempt", 1));
  else if (e.name == ev::kStepCompleted)
    line = fmt::format("{:<18} complete: {}", e.step_name,
                       describe_result_(e.step_name, p.value("result", tasker::json())));
  else if (e.name == ev::kStepFailed)
    line =
        fmt::format("{:<18} failed ({}): {}", e.step_name,
                    p["error"].value("retryable", false) && p.value("will_retry", false) ? "will retry" : "permanent",
                    p["error"].value("message", ""));
  else if (e.name == ev::kStepRetryScheduled)
    line = fmt::format("{:<18} retry in {:.1f}s", e.step_name, p.value("delay_ms", 0) / 1000.0);
  else if (e.name == ev::kTaskCompleted)
    line = "task complete";
  else if (e.name == ev::kTaskFailed)
    line = "task failed: a step failed and nothing else can run";
  else
    return;  // created, enqueued: too chatty for a demo
  fmt::print("[{:6.3f}s] {}\n", t, line);
  std::fflush(stdout);
}

void print_step_table(tasker::Client& client, const std::string& task_uuid,
                      const std::function<std::string(const std::string&, const tasker::json&)>& describe_result) {
  auto steps = client.list_steps(task_uuid);
  std::size_t name_width = 4;
  for (const auto& s : steps) name_width = std::max(name_width, s.name.size());
  fmt::print("\n{:<{}}  {:<17}  {:>8}  {:>9}  {}\n", "STEP", name_width, "STATE", "ATTEMPTS", "DURATION", "RESULT");
  for (const auto& s : steps) {
    std::string duration = "-";
    if (s.last_attempted_at && s.completed_at)
      duration = fmt::format("{} ms", (*s.completed_at - *s.last_attempted_at).count());
    std::string summary = s.results ? describe_result(s.name, *s.results) : s.error ? "error: " + s.error->message : "";
    fmt::print("{:<{}}  {:<17}  {:>8}  {:>9}  {}\n", s.name, name_width, tasker::to_string(s.state),
               fmt::format("{}/{}", s.attempts, s.max_attempts), duration, summary);
  }
}

namespace {
std::vector<std::filesystem::path> template_paths(const std::string& given, const tasker::Config& config) {
  if (!given.empty()) return {given};
  if (!config.template_paths.empty()) return config.template_paths;
  return {TASKER_EXAMPLE_TEMPLATES};
}
}  // namespace

Session::Session(const std::string& db_url, const std::string& templates_dir)
    : config(tasker::Config::load()), db(db_url.empty() ? config.database_url : db_url) {
  tasker::set_log_level(config.log_level);
  templates = std::make_shared<tasker::TemplateSet>(
      tasker::TemplateSet::load(template_paths(templates_dir, config), {config.environment, config.limits.templates}));
  store = tasker::open_store(db, config.store_options());
  client = std::make_unique<tasker::Client>(
      store, templates, tasker::ClientOptions{&tasker::SystemClock::instance(), bus, config.limits.json});
}

tasker::TaskView Session::run(const tasker::TaskRequest& request, const tasker::WorkerOptions& options,
                              const Describe& describe) {
  ProgressPrinter progress(*bus, describe);
  tasker::TaskView task = client->submit(request);
  progress.follow(task.uuid);
  fmt::print("submitted task {} ({}/{}@{}, {} steps)\n\n", task.uuid, task.namespace_name, task.name, task.version,
             task.counts.total);
  tasker::Worker worker(store, handlers, options, bus);
  worker.run_until_idle();
  print_step_table(*client, task.uuid, describe);
  return client->get_task(task.uuid);
}

int guarded_main(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const tasker::TemplateError& e) {
    for (const auto& d : e.diagnostics()) fmt::print(stderr, "{}\n", d.to_string());
    return 4;
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: error: {}\n", program, e.what());
    return 1;
  }
}

}  // namespace example
