// The README's "Using the library" program, built against the installed
// package: run the linear workflow to its end on SQLite. Arguments: the
// templates folder and the database file (the README writes them inline).
#include <tasker/tasker.hpp>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  auto templates = tasker::TemplateSet::load({argv[1]});
  auto store = tasker::open_store(argv[2]);

  auto handlers = std::make_shared<tasker::HandlerRegistry>();
  handlers->add("math.square_input", [](tasker::StepContext& ctx) {
    long long n = ctx.context().at("even_number");
    return tasker::json(n * n);
  });
  handlers->add("math.square", [](tasker::StepContext& ctx) {
    long long n = ctx.dependency_results().begin().value();  // the one parent's result
    return tasker::json(n * n);
  });

  tasker::Client client(store, std::move(templates));
  auto task = client.submit(
      {.namespace_name = "linear_workflow", .name = "mathematical_sequence", .context = {{"even_number", 6}}});
  tasker::Worker worker(store, handlers);
  worker.start();
  auto done = client.wait_for_task(task.uuid, std::chrono::seconds{60});
  worker.stop();
  auto last = client.get_step(task.uuid, "linear_step_4").results.value_or(nullptr);
  std::cout << "consumer: " << tasker::to_string(done.state) << " " << last.dump() << "\n";
  // The installed headers and library are one release.
  if (tasker::version() != TASKER_VERSION_STRING) return 1;
  return done.state == tasker::TaskState::complete ? 0 : 1;
}
