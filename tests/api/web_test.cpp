// The web view's server side (docs/web.md): the pages and their files with
// their security headers, and the graph routes: SVG laid out by Graphviz with a
// node per step (id from the name, class from the state), user strings escaped,
// dot and Mermaid text, and the drawing limit. tests/web drives the pages in Chromium.
#include <fmt/format.h>

#include <fstream>
#include <regex>

#include "support.hpp"
#include "tasker/errors.hpp"
#include "tasker/handler.hpp"
#include "tasker/worker.hpp"

using namespace api_test;

namespace {

std::string header(const Reply& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string() : it->second;
}

std::string text(const Reply& r) { return r.body.is_string() ? r.body.get<std::string>() : r.body.dump(); }

/// Every `<g id="..." class="node ...">` of an SVG: id -> class.
std::map<std::string, std::string> svg_nodes(const std::string& svg) {
  std::map<std::string, std::string> nodes;
  static const std::regex node(R"re(<g id="([^"]*)" class="node([^"]*)">)re");
  for (std::sregex_iterator it(svg.begin(), svg.end(), node), end; it != end; ++it) {
    std::string id = (*it)[1];
    for (std::size_t at; (at = id.find("&#45;")) != std::string::npos;) id.replace(at, 5, "-");
    std::string klass = (*it)[2];
    for (std::size_t at; (at = klass.find("&#45;")) != std::string::npos;) klass.replace(at, 5, "-");
    nodes[id] = klass;
  }
  return nodes;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

/// A folder holding one template file with `yaml`; removed with the object.
struct TemplateDir {
  std::filesystem::path path;
  explicit TemplateDir(const std::string& yaml)
      : path(std::filesystem::temp_directory_path() / fmt::format("tasker-web-{}", tasker::new_uuid())) {
    std::filesystem::create_directories(path);
    std::ofstream(path / "template.yaml") << yaml;
  }
  ~TemplateDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("web: the pages and their files are served with a policy that allows only this server's scripts") {
  ServerFixture s;
  auto task = s.client().submit(linear_task());
  for (const std::string& path :
       {std::string("/"), "/tasks/" + task.uuid, std::string("/templates"),
        std::string("/templates/linear_workflow/mathematical_sequence/1.0.0"), std::string("/schedules")}) {
    CAPTURE(path);
    Reply r = s.call("GET", path);
    REQUIRE(r.status == 200);
    CHECK(header(r, "Content-Type") == "text/html; charset=utf-8");
    const std::string policy = header(r, "Content-Security-Policy");
    CHECK(policy.find("default-src 'none'") != std::string::npos);
    CHECK(policy.find("script-src 'self';") != std::string::npos);
    CHECK(policy.find("unsafe-inline") == std::string::npos);
    CHECK(policy.find("frame-ancestors 'none'") != std::string::npos);
    CHECK(header(r, "X-Content-Type-Options") == "nosniff");
    CHECK(header(r, "X-Frame-Options") == "DENY");
    CHECK(header(r, "Referrer-Policy") == "no-referrer");
    const std::string html = text(r);
    CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(html.find("{{") == std::string::npos);  // every placeholder filled
    // No inline script: every <script> loads a file of this server.
    CHECK(count(html, "<script") == count(html, "<script src=\"/ui/"));
    // The pages hold no data: the task's context reaches the browser only through the API.
    CHECK(html.find(task.uuid) == std::string::npos);
  }
  for (const auto& file_type : std::map<std::string, std::string>{{"tasker.css", "text/css; charset=utf-8"},
                                                                  {"states.css", "text/css; charset=utf-8"},
                                                                  {"tasker.js", "text/javascript; charset=utf-8"},
                                                                  {"task.js", "text/javascript; charset=utf-8"},
                                                                  {"tasks.js", "text/javascript; charset=utf-8"},
                                                                  {"templates.js", "text/javascript; charset=utf-8"},
                                                                  {"schedules.js", "text/javascript; charset=utf-8"},
                                                                  {"favicon.svg", "image/svg+xml"}}) {
    // Not a structured binding: CAPTURE captures `file` in a lambda, which clang 14 (clang-tidy) refuses.
    const std::string& file = file_type.first;
    const std::string& type = file_type.second;
    CAPTURE(file);
    Reply r = s.call("GET", "/ui/" + file);
    CHECK(r.status == 200);
    CHECK(header(r, "Content-Type") == type);
    CHECK(header(r, "X-Content-Type-Options") == "nosniff");
    CHECK_FALSE(text(r).empty());
  }
  // The state colours come from the one table the dot and Mermaid output use.
  const std::string states = text(s.call("GET", "/ui/states.css"));
  CHECK(states.find(".state-error { --state: #ef9a9a; }") != std::string::npos);
  CHECK(states.find(".graph g.node.state-complete > path") != std::string::npos);
  Reply missing = s.call("GET", "/ui/nothing.js");
  s.is_error(missing, 404, "NOT_FOUND");
  CHECK(missing.body["error"]["message"].get<std::string>().find("tasker.js") != std::string::npos);
  s.is_error(s.call("GET", "/ui/../openapi.json"), 400, "BAD_REQUEST");
}

TEST_CASE("web: with API keys the pages stay public (they hold no data) and the graph needs tasks:read") {
  tasker::ServerSettings settings = test_settings();
  settings.api_keys = {{"reader", sha256_hex("read-token"), {"tasks:read"}},
                       {"submitter", sha256_hex("submit-token"), {"tasks:create"}}};
  ServerFixture s(settings);
  auto task = s.client().submit(linear_task());
  CHECK(s.call("GET", "/").status == 200);
  CHECK(s.call("GET", "/tasks/" + task.uuid).status == 200);
  CHECK(s.call("GET", "/ui/task.js").status == 200);
  s.is_error(s.call("GET", "/v1/tasks/" + task.uuid + "/graph"), 401, "UNAUTHORIZED");
  s.is_error(s.call("GET", "/v1/templates/linear_workflow/mathematical_sequence/1.0.0/graph"), 401, "UNAUTHORIZED");
  s.is_error(s.call("GET", "/v1/tasks/" + task.uuid + "/graph", "", "submit-token"), 403, "FORBIDDEN");
  CHECK(s.call("GET", "/v1/tasks/" + task.uuid + "/graph", "", "read-token").status == 200);
}

TEST_CASE("web: a task's graph has one node per step, its id from the step's name and its class from its state") {
  ServerFixture s;
  auto task = s.client().submit(linear_task());
  auto handlers = std::make_shared<tasker::HandlerRegistry>();
  handlers->add("math.square_input", [](tasker::StepContext& c) {
    long long n = c.context().at("even_number");
    return json(n * n);
  });
  handlers->add("math.square", [](tasker::StepContext& c) -> json {
    if (c.step_name() == "linear_step_3") throw tasker::PermanentError("no");
    long long n = c.dependency_results().begin().value();
    return json(n * n);
  });
  tasker::Worker(tasker::open_store(s.database_url()), handlers).run_until_idle();

  Reply r = s.call("GET", "/v1/tasks/" + task.uuid + "/graph");
  REQUIRE(r.status == 200);
  CHECK(header(r, "Content-Type") == "image/svg+xml");
  CHECK(header(r, "Content-Security-Policy").find("default-src 'none'") != std::string::npos);
  CHECK(std::regex_match(header(r, "Server-Timing"), std::regex(R"(layout;dur=[0-9.]+, render;dur=[0-9.]+)")));
  const std::string svg = text(r);
  CHECK(svg.rfind("<svg", 0) == 0);              // ready to place in a page: no prolog,
  CHECK(svg.find("<!--") == std::string::npos);  // no comments
  CHECK(svg.find("</svg>") != std::string::npos);
  const auto nodes = svg_nodes(svg);
  CHECK(nodes == std::map<std::string, std::string>{{"step-linear_step_1", " step state-complete"},
                                                    {"step-linear_step_2", " step state-complete"},
                                                    {"step-linear_step_3", " step state-error"},
                                                    {"step-linear_step_4", " step state-pending"}});
  CHECK(count(svg, "class=\"edge\"") == 3);
  CHECK(svg.find("fill=\"#ef9a9a\"") != std::string::npos);  // the failed node's colour, also outside a page
  CHECK(svg.find(">attempts 1/") != std::string::npos);

  Reply dot = s.call("GET", "/v1/tasks/" + task.uuid + "/graph?format=dot");
  REQUIRE(dot.status == 200);
  CHECK(header(dot, "Content-Type") == "text/vnd.graphviz; charset=utf-8");
  CHECK(text(dot).rfind("digraph", 0) == 0);
  Reply mermaid = s.call("GET", "/v1/tasks/" + task.uuid + "/graph?format=mermaid");
  REQUIRE(mermaid.status == 200);
  CHECK(text(mermaid).find("flowchart TD") != std::string::npos);
  Reply png = s.call("GET", "/v1/tasks/" + task.uuid + "/graph?format=png");
  s.is_error(png, 400, "BAD_REQUEST");
  CHECK(png.body["error"]["field"] == "format");
  s.is_error(s.call("GET", "/v1/tasks/not-a-uuid/graph"), 400, "INVALID_UUID");
  s.is_error(s.call("GET", "/v1/tasks/" + tasker::new_uuid() + "/graph"), 404, "NOT_FOUND");
}

TEST_CASE("web: a template's graph shows each step's handler and retry policy, without states") {
  ServerFixture s;
  Reply r = s.call("GET", "/v1/templates/linear_workflow/mathematical_sequence/1.0.0/graph");
  REQUIRE(r.status == 200);
  const std::string svg = text(r);
  const auto nodes = svg_nodes(svg);
  CHECK(nodes.size() == 4);
  for (const auto& [id, klass] : nodes) CHECK(klass == " step");
  CHECK(svg.find(">math.square_input<") != std::string::npos);
  CHECK(svg.find("x exponential") != std::string::npos);
  s.is_error(s.call("GET", "/v1/templates/linear_workflow/mathematical_sequence/9.9.9/graph"), 404, "NOT_FOUND");
}

TEST_CASE("web: names in the SVG are text: markup is escaped and dot's backslash escapes are not interpreted") {
  TemplateDir dir(R"(
name: hostile
namespace_name: web_test
version: 1.0.0
steps:
  - name: "<script>alert(1)</script>"
    handler: {callable: "x.<b>\"quoted\" & more"}
  - name: 'back\slash \N \G'
    handler: {callable: plain}
    dependencies: ["<script>alert(1)</script>"]
)");
  ServerFixture s(test_settings(), {}, dir.path);
  Reply r = s.call("GET", "/v1/templates/web_test/hostile/1.0.0/graph");
  REQUIRE(r.status == 200);
  const std::string svg = text(r);
  CHECK(svg.find("<script") == std::string::npos);
  CHECK(svg.find("<b>") == std::string::npos);
  CHECK(svg.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(svg.find("&lt;b&gt;&quot;quoted&quot; &amp; more") != std::string::npos);
  CHECK(svg.find(">back\\slash \\N \\G<") != std::string::npos);
  const auto nodes = svg_nodes(svg);
  CHECK(nodes.count("step-.3cscript.3ealert.281.29.3c.2fscript.3e") == 1);
  CHECK(nodes.count("step-back.5cslash.20.5cN.20.5cG") == 1);
}

TEST_CASE("web: a graph over the drawing limit is refused with 422 naming the limit, and dot text still works") {
  std::string yaml = "name: huge\nnamespace_name: web_test\nversion: 1.0.0\nsteps:\n";
  for (int i = 0; i < 3001; ++i) {
    yaml += fmt::format("  - name: s{}\n    handler: {{callable: c}}\n", i);
    if (i > 0) yaml += fmt::format("    dependencies: [s{}]\n", i - 1);
  }
  TemplateDir dir(yaml);
  ServerFixture s(test_settings(), {}, dir.path);
  Reply r = s.call("GET", "/v1/templates/web_test/huge/1.0.0/graph");
  s.is_error(r, 422, "GRAPH_TOO_LARGE");
  const std::string message = r.body["error"]["message"];
  CHECK(message.find("3001 steps") != std::string::npos);
  CHECK(message.find("up to 3000 steps") != std::string::npos);
  CHECK(message.find("format=dot") != std::string::npos);
  CHECK(s.call("GET", "/v1/templates/web_test/huge/1.0.0/graph?format=dot").status == 200);
}

TEST_CASE("web: a template's graph draws decisions, batches and convergence steps apart, run-time steps dashed") {
  TemplateDir dir(R"(
name: dynamic
namespace_name: web_test
version: 1.0.0
steps:
  - {name: start, handler: {callable: x.start}}
  - {name: route, type: decision, dependencies: [start], handler: {callable: x.route}}
  - {name: plan, type: batchable, dependencies: [route], handler: {callable: x.plan}}
  - name: work
    type: batch_worker
    dependencies: [plan]
    handler: {callable: x.work}
    batch_config: {worker_template: work}
  - {name: collect, type: deferred_convergence, dependencies: [work], handler: {callable: x.collect}}
)");
  ServerFixture s(test_settings(), {}, dir.path);
  Reply r = s.call("GET", "/v1/templates/web_test/dynamic/1.0.0/graph");
  REQUIRE(r.status == 200);
  const std::string svg = text(r);
  // plan, work and collect descend from the decision: created only at run time.
  CHECK(svg_nodes(svg) ==
        std::map<std::string, std::string>{{"step-start", " step"},
                                           {"step-route", " step type-decision"},
                                           {"step-plan", " step type-batchable runtime"},
                                           {"step-work", " step type-batch_worker runtime"},
                                           {"step-collect", " step type-deferred_convergence runtime"}});
  // The run-time steps' outlines are dashed, the others' not.
  auto drawing_of = [&](const std::string& id) {
    const auto start = svg.find("<g id=\"" + id + "\"");
    REQUIRE(start != std::string::npos);
    return svg.substr(start, svg.find("</g>", start) - start);
  };
  for (const char* id : {"step&#45;start", "step&#45;route"})
    CHECK(drawing_of(id).find("stroke-dasharray") == std::string::npos);
  for (const char* id : {"step&#45;plan", "step&#45;work", "step&#45;collect"})
    CHECK(drawing_of(id).find("stroke-dasharray") != std::string::npos);
}
