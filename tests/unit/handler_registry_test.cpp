#include <doctest/doctest.h>

#include "tasker/errors.hpp"
#include "tasker/handler.hpp"

using namespace tasker;

TEST_CASE("registry: resolves what was added, lists callables sorted") {
  HandlerRegistry registry;
  registry.add("b.second", [](StepContext&) { return json(2); });
  registry.add("a.first", [](StepContext&) { return json(1); });
  CHECK(registry.size() == 2);
  CHECK(registry.contains("a.first"));
  CHECK(registry.callables() == std::vector<std::string>{"a.first", "b.second"});
  StepContext ctx("t", "s", json::object(), json::object(), json::object(), 1, TimePoint{}, SystemClock::instance());
  CHECK(registry.resolve("b.second")(ctx) == 2);
}

TEST_CASE("registry: an unknown callable throws HandlerNotFoundError naming it and what is registered") {
  HandlerRegistry registry;
  registry.add("ecommerce.validate_cart", [](StepContext&) { return json(); });
  try {
    (void)registry.resolve("ecommerce.validate_kart");
    FAIL("resolved an unknown callable");
  } catch (const HandlerNotFoundError& e) {
    CHECK(e.callable() == "ecommerce.validate_kart");
    std::string message = e.what();
    CHECK(message.find("ecommerce.validate_cart") != std::string::npos);
    CHECK(message.find("HandlerRegistry::add") != std::string::npos);
  }
}

TEST_CASE("registry: a name can be registered once, and must be non-empty with a handler") {
  HandlerRegistry registry;
  registry.add("x", [](StepContext&) { return json(); });
  CHECK_THROWS_AS(registry.add("x", [](StepContext&) { return json(); }), InvalidRequestError);
  CHECK_THROWS_AS(registry.add("", [](StepContext&) { return json(); }), InvalidRequestError);
  CHECK_THROWS_AS(registry.add("y", StepHandler{}), InvalidRequestError);
}

TEST_CASE("step context: dependency results by name, missing ones fail permanently, cancellation is shared") {
  auto flag = std::make_shared<std::atomic<bool>>(false);
  int beats = 0;
  StepContext ctx("task-1", "ship", {{"order", 7}}, {{"carrier", "ups"}}, {{"pay", {{"id", "p1"}}}}, 2,
                  TimePoint{std::chrono::milliseconds{5000}}, SystemClock::instance(),
                  StepControls{.cancelled = flag, .heartbeat = [&] { ++beats; }});
  CHECK(ctx.context()["order"] == 7);
  CHECK(ctx.initialization()["carrier"] == "ups");
  CHECK(ctx.dependency_result("pay")["id"] == "p1");
  CHECK(ctx.attempt() == 2);
  CHECK_THROWS_AS((void)ctx.dependency_result("reserve"), PermanentError);
  CHECK_FALSE(ctx.cancelled());
  flag->store(true);
  CHECK(ctx.cancelled());
  ctx.heartbeat();
  CHECK(beats == 1);
  StepContext plain("task-1", "ship", json::object(), json::object(), json::object(), 1,
                    TimePoint{std::chrono::milliseconds{5000}}, SystemClock::instance());
  CHECK_FALSE(plain.cancelled());  // no controls: never cancelled, heartbeat does nothing
  plain.heartbeat();
}
