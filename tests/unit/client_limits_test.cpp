// A host passing untrusted JSON to Client::submit or complete_step_manually
// gets an error, not a crash of its own process, and nothing is written.
// A real SQLite file.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "helpers.hpp"
#include "tasker/client.hpp"
#include "tasker/errors.hpp"

using namespace tasker;

namespace {

struct Fixture {
  test::TempDir dir;
  std::shared_ptr<Store> store = open_store("sqlite://" + (dir.path() / "tasker.db").string());
  std::shared_ptr<TemplateSet> templates = [] {
    auto set = std::make_shared<TemplateSet>();
    LoadResult loaded = load_templates_from_string(test::minimal_template("t", "ns"), "t.yaml", test::env("test"));
    set->add_all(loaded);
    return set;
  }();

  TaskRequest request(json context) const {
    TaskRequest r;
    r.namespace_name = "ns";
    r.name = "t";
    r.context = std::move(context);
    return r;
  }
};

/// A value nested `depth` levels, built without recursion (as a host that parsed it got it).
json deep(std::size_t depth) {
  return json::parse("{\"a\":" + std::string(depth, '[') + std::string(depth, ']') + "}");
}

}  // namespace

TEST_CASE("client limits: a context nested 100,000 levels is refused before anything is written") {
  Fixture f;
  Client client(f.store, f.templates);
  try {
    client.submit(f.request(deep(100'000)));
    FAIL("accepted");
  } catch (const LimitError& e) {
    CHECK(e.limit() == "limits.json_max_depth");
    CHECK(e.actual() == 100'001);
    CHECK(std::string(e.what()).rfind("the task context is nested 100001 levels deep", 0) == 0);
  }
  CHECK(client.list_tasks().tasks.empty());
}

TEST_CASE("client limits: ClientOptions::limits bound contexts and manual results") {
  Fixture f;
  ClientOptions options;
  options.limits.max_depth = 3;
  options.limits.max_bytes = 40;
  Client client(f.store, f.templates, options);
  CHECK_NOTHROW(check_json(json::parse(R"({"a": [[1]]})"), options.limits, "three levels"));
  CHECK_THROWS_AS(client.submit(f.request(json::parse(R"({"a": [[[1]]]})"))), LimitError);
  CHECK_THROWS_AS(client.submit(f.request({{"note", std::string(40, 'x')}})), LimitError);
  CHECK_THROWS_WITH_AS(client.submit(f.request({{"name", "caf\xe9"}})),
                       doctest::Contains("the task context holds text that is not valid UTF-8 (at /name)"),
                       InvalidRequestError);
  CHECK(client.list_tasks().tasks.empty());

  TaskView task = client.submit(f.request({{"a", json::array({1})}}));
  CHECK_THROWS_WITH_AS(client.complete_step_manually(task.uuid, "only", deep(10)),
                       doctest::Contains("the result is nested 11 levels deep, more than limits.json_max_depth "
                                         "allows (3)"),
                       LimitError);
  CHECK_THROWS_AS(client.complete_step_manually(task.uuid, "only", json("\xff")), InvalidRequestError);
  CHECK(client.get_step(task.uuid, "only").state == StepState::enqueued);
  CHECK(client.complete_step_manually(task.uuid, "only", {{"ok", true}}).state == StepState::complete);
}
