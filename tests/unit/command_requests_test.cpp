// The command protocol's requests (docs/handlers.md, "Asking the worker"),
// answered line by line against a StepContext wired to test controls.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include "engine/command_requests.hpp"
#include "helpers.hpp"
#include "tasker/errors.hpp"

using tasker::json;
using tasker::StepContext;
using tasker::test::contains;

namespace {
json answer_of(const std::string& line) { return json::parse(line); }
}  // namespace

TEST_CASE("command requests: checkpoints, step results and heartbeats are answered one line each") {
  json saved;
  int beats = 0;
  StepContext ctx("11111111-2222-4333-8444-555555555555", "work", json::object(), json::object(),
                  {{"parent", {{"x", 1}}}}, 1, tasker::SystemClock::instance().now(), tasker::SystemClock::instance(),
                  tasker::StepControls{.heartbeat = [&] { ++beats; },
                                       .save_checkpoint =
                                           [&](const json& c) {
                                             saved = c;
                                             return true;
                                           },
                                       .step_result = [](const std::string& name) -> std::optional<json> {
                                         if (name == "grandparent") return json{{"y", 2}};
                                         return std::nullopt;
                                       }});
  tasker::detail::CommandRequests requests(ctx, tasker::JsonLimits{});
  // A line may arrive in pieces: nothing is answered until it ends.
  CHECK(requests.feed(R"({"save_checkpoint": {"cursor": 50, "items_proc)").empty());
  json a = answer_of(requests.feed("essed\": 50, \"accumulated_results\": 1225}}\n"));
  CHECK(a == json{{"ok", true}, {"saved", true}});
  CHECK(saved["cursor"] == 50);
  CHECK(saved["accumulated_results"] == 1225);
  CHECK(ctx.checkpoint()["items_processed"] == 50);

  CHECK(answer_of(requests.feed("{\"step_result\": \"parent\"}\n")) == json{{"ok", true}, {"result", {{"x", 1}}}});
  CHECK(answer_of(requests.feed("{\"step_result\": \"grandparent\"}\n")) == json{{"ok", true}, {"result", {{"y", 2}}}});
  json missing = answer_of(requests.feed("{\"step_result\": \"nowhere\"}\n"));
  CHECK(missing["ok"] == false);
  CHECK(missing["permanent"] == true);
  CHECK(contains(missing["error"].get<std::string>(), "`nowhere`"));

  CHECK(answer_of(requests.feed("{\"heartbeat\": true}\n")) == json{{"ok", true}});
  CHECK(beats == 1);

  // Two requests in one read: two answers, in order.
  std::string two = requests.feed("{\"heartbeat\": true}\n{\"heartbeat\": true}\n");
  CHECK(two == "{\"ok\":true}\n{\"ok\":true}\n");
}

TEST_CASE("command requests: malformed, unknown and oversized requests are refused without stopping the channel") {
  StepContext ctx("11111111-2222-4333-8444-555555555555", "work", json::object(), json::object(), json::object(), 1,
                  tasker::SystemClock::instance().now(), tasker::SystemClock::instance());
  tasker::detail::CommandRequests requests(ctx, tasker::JsonLimits{.max_depth = 8, .max_bytes = 64});
  CHECK(contains(answer_of(requests.feed("not json\n"))["error"].get<std::string>(), "one JSON object"));
  CHECK(contains(answer_of(requests.feed("{\"launch\": 1}\n"))["error"].get<std::string>(), "unknown request"));
  CHECK(contains(answer_of(requests.feed("{\"save_checkpoint\": {\"cursor\": 1}}\n"))["error"].get<std::string>(),
                 "items_processed"));
  // A context without a way to save refuses checkpoints, naming why.
  json no_save = answer_of(requests.feed(R"({"save_checkpoint": {"cursor": 1, "items_processed": 1}})"
                                         "\n"));
  CHECK(no_save["ok"] == false);
  CHECK(contains(no_save["error"].get<std::string>(), "save_checkpoint"));
  std::string big = requests.feed(std::string(100, 'x') + "\n{\"heartbeat\": true}\n");
  CHECK(contains(big, "limits.json_max_bytes"));
  CHECK(contains(big, "{\"ok\":true}"));
  // Nesting beyond the limit is refused before it is built.
  json deep = answer_of(requests.feed(fmt::format("{{\"heartbeat\": {:[>20}{:]>20}}}\n", "", "")));
  CHECK(deep["ok"] == false);
  CHECK(contains(deep["error"].get<std::string>(), "limits.json_max_depth"));
}
