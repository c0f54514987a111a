// A handler's result or failure cannot stop a worker: a result too deep, too
// large or not UTF-8 fails its attempt as invalid_result; a failure's message
// and context are made storable; and should an outcome still fail to
// serialise when a batch is recorded, only its step fails. A real SQLite file.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <memory>
#include <string>

#include "forwarding_store.hpp"
#include "helpers.hpp"
#include "tasker/client.hpp"
#include "tasker/errors.hpp"
#include "tasker/limits.hpp"
#include "tasker/worker.hpp"

using namespace tasker;

namespace {

/// One template with one independent step per callable.
std::shared_ptr<TemplateSet> templates(const std::vector<std::string>& callables) {
  std::string yaml = "name: outcomes\nnamespace_name: unit\nversion: 1.0.0\nsteps:\n";
  for (const auto& c : callables)
    yaml += fmt::format("  - name: {0}\n    handler: {{callable: {0}}}\n    retry: {{max_attempts: 1}}\n", c);
  LoadResult loaded = load_templates_from_string(yaml, "outcomes.yaml", test::env("test"));
  REQUIRE_MESSAGE(loaded.ok(), test::dump(loaded));
  auto set = std::make_shared<TemplateSet>();
  set->add_all(loaded);
  return set;
}

WorkerOptions quick_worker() {
  WorkerOptions o;
  o.concurrency = 4;
  o.fallback_interval = std::chrono::milliseconds{20};
  return o;
}

/// Runs one task of `handlers` to its end and returns its steps by name.
std::map<std::string, StepView> run_task(const std::shared_ptr<Store>& store,
                                         const std::shared_ptr<HandlerRegistry>& handlers, Worker& worker) {
  Client client(store, templates(handlers->callables()));
  TaskRequest request;
  request.namespace_name = "unit";
  request.name = "outcomes";
  request.context = {{"n", 1}};
  TaskView task = client.submit(request);
  worker.run_until_idle();
  CHECK(worker.failure().empty());
  std::map<std::string, StepView> steps;
  for (auto& s : client.snapshot(task.uuid).steps) steps.emplace(s.name, std::move(s));
  return steps;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// Fails an exchange with the exception the store's own serialisation raises
/// for an unserialisable value, whenever the batch holds a success whose result
/// is "poison" (what Job::run lets through nothing like: the coordinator's
/// second line of defence is tested with it).
std::shared_ptr<Store> poisoned_store(std::shared_ptr<Store> inner) {
  return std::make_shared<test::ForwardingStore>(
      std::move(inner), [](const std::vector<StepOutcome>& outcomes, const ClaimRequest*, TimePoint) {
        for (const auto& o : outcomes)
          if (o.kind == StepOutcome::Kind::success && o.result == "poison")
            (void)json(std::string("\xff")).dump();  // throws json::type_error 316, as serialising the batch would
      });
}

}  // namespace

TEST_CASE("worker outcomes: results that cannot be stored fail their step as invalid_result, the others complete") {
  test::TempDir dir;
  auto store = open_store("sqlite://" + (dir.path() / "tasker.db").string());
  auto handlers = std::make_shared<HandlerRegistry>();
  handlers->add("deep",
                [](StepContext&) { return json::parse(std::string(100'000, '[') + std::string(100'000, ']')); });
  handlers->add("large", [](StepContext&) { return json(std::string(std::size_t{9} * 1024 * 1024, 'x')); });
  handlers->add("not_utf8", [](StepContext&) { return json{{"name", "caf\xe9"}}; });
  handlers->add("fine", [](StepContext& ctx) { return json{{"n", ctx.context().at("n")}}; });
  Worker worker(store, handlers, quick_worker());
  auto steps = run_task(store, handlers, worker);

  CHECK(steps.at("fine").state == StepState::complete);
  CHECK(steps.at("fine").results == json{{"n", 1}});
  for (const char* name : {"deep", "large", "not_utf8"}) {
    CAPTURE(name);
    const StepView& s = steps.at(name);
    CHECK(s.state == StepState::error);
    REQUIRE(s.error);
    CHECK(s.error->error_type == "invalid_result");
    CHECK_FALSE(s.error->retryable);
  }
  CHECK(contains(steps.at("deep").error->message,
                 "the handler's result is nested 100000 levels deep, more than limits.json_max_depth allows (128)"));
  CHECK(contains(steps.at("large").error->message,
                 "the handler's result is 9437186 bytes, more than limits.json_max_bytes allows (8388608)"));
  CHECK(contains(steps.at("not_utf8").error->message, "not valid UTF-8 (at /name)"));
}

TEST_CASE("worker outcomes: a failure's message, type and context are made storable") {
  test::TempDir dir;
  auto store = open_store("sqlite://" + (dir.path() / "tasker.db").string());
  auto handlers = std::make_shared<HandlerRegistry>();
  handlers->add("bad_text", [](StepContext&) -> json {
    PermanentError e("card \xff declined", {{"raw", "\xfe\xff"}, {"ok", 1}});
    e.set_error_type("declined\xff");
    throw e;
  });
  handlers->add("deep_context", [](StepContext&) -> json {
    throw RetryableError("gateway down", std::nullopt,
                         json::parse(std::string(50'000, '[') + std::string(50'000, ']')));
  });
  handlers->add("bad_exception", [](StepContext&) -> json { throw std::runtime_error("bytes \xc3"); });
  Worker worker(store, handlers, quick_worker());
  auto steps = run_task(store, handlers, worker);

  const StepFailure& text = *steps.at("bad_text").error;
  CHECK(text.message == "card \xef\xbf\xbd declined");
  CHECK(text.error_type == "declined\xef\xbf\xbd");
  CHECK(text.context == json{{"raw", "\xef\xbf\xbd\xef\xbf\xbd"}, {"ok", 1}});

  const StepFailure& deep = *steps.at("deep_context").error;
  CHECK(deep.message == "gateway down");
  CHECK(contains(deep.context.at("context_dropped").get<std::string>(), "50000 levels deep"));

  CHECK(steps.at("bad_exception").error->message == "bytes \xef\xbf\xbd");
}

TEST_CASE("worker outcomes: an outcome that fails to serialise in a batch fails its own step, not the worker") {
  test::TempDir dir;
  auto store = poisoned_store(open_store("sqlite://" + (dir.path() / "tasker.db").string()));
  auto handlers = std::make_shared<HandlerRegistry>();
  handlers->add("poisoned", [](StepContext&) { return json("poison"); });
  for (const char* name : {"a", "b", "c"}) handlers->add(name, [](StepContext&) { return json(1); });
  WorkerOptions options = quick_worker();
  options.batch_size = 8;  // the four steps are claimed, and their outcomes recorded, together
  Worker worker(store, handlers, options);
  auto steps = run_task(store, handlers, worker);

  CHECK(worker.failure().empty());  // the coordinator's loop did not end
  const StepView& poisoned = steps.at("poisoned");
  CHECK(poisoned.state == StepState::error);
  REQUIRE(poisoned.error);
  CHECK(poisoned.error->error_type == "invalid_result");
  CHECK(contains(poisoned.error->message, "this attempt's outcome cannot be serialised"));
  CHECK(contains(poisoned.error->message, "type_error.316"));
  for (const char* name : {"a", "b", "c"}) CHECK(steps.at(name).state == StepState::complete);
}
