// The web view (docs/web.md): five pages, their style sheets and scripts,
// all embedded at build time (lib/server/web/, cmake/embed_text.cmake), and
// the graph answers the pages draw. The pages hold no data: their scripts read
// everything through the API routes, with the API's keys and permissions.
#include <fmt/format.h>

#include <array>
#include <map>

#include "graph_svg.hpp"
#include "routes.hpp"
#include "tasker/states.hpp"

namespace tasker::server {

// lib/server/web/*, embedded at build time (lib/CMakeLists.txt).
extern const char* const kWeb_layout_html;
extern const char* const kWeb_tasks_html;
extern const char* const kWeb_task_html;
extern const char* const kWeb_templates_html;
extern const char* const kWeb_template_html;
extern const char* const kWeb_schedules_html;
extern const char* const kWeb_dlq_html;
extern const char* const kWeb_tasker_css;
extern const char* const kWeb_tasker_js;
extern const char* const kWeb_tasks_js;
extern const char* const kWeb_task_js;
extern const char* const kWeb_templates_js;
extern const char* const kWeb_schedules_js;
extern const char* const kWeb_dlq_js;
extern const char* const kWeb_favicon_svg;

namespace {

// Scripts and styles come from this server only, and no inline script or
// style runs: a string that slipped into the page as markup could do nothing.
constexpr const char* kPagePolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
// An SVG opened on its own is a document too: it may style itself, nothing more.
constexpr const char* kSvgPolicy = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'";

struct Asset {
  std::string text;
  const char* type;
};

void web_headers(Response& res, const char* policy) {
  res.set_header("Content-Security-Policy", policy);
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Cache-Control", "no-cache");  // revalidate: a new tasker serves new pages
}

std::string replaced(std::string text, const std::string& placeholder, const std::string& value) {
  for (auto at = text.find(placeholder); at != std::string::npos; at = text.find(placeholder, at + value.size()))
    text.replace(at, placeholder.size(), value);
  return text;
}

std::string page(const char* title, const char* main, const char* script) {
  return replaced(replaced(replaced(kWeb_layout_html, "{{title}}", title), "{{script}}", script), "{{main}}", main);
}

/// The state colours as CSS, from the table the dot and Mermaid output use.
std::string states_css() {
  std::string css = "/* Written by tasker serve from tasker::state_colour (lib/model/graph.cpp). */\n";
  for (StepState s : step_states()) {
    const std::string_view name = to_string(s);
    css += fmt::format(
        ".state-{0} {{ --state: {1}; }}\n"
        ".graph g.node.state-{0} > path, .graph g.node.state-{0} > polygon {{ fill: {1}; }}\n",
        name, state_colour(name));
  }
  return css;
}

}  // namespace

void write_graph(const Request& req, Response& res, const GraphSpec& graph) {
  const std::string format = req.has_param("format") ? req.get_param_value("format") : "svg";
  if (format == "svg") {
    SvgTimings timings;
    std::string svg;
    try {
      svg = draw_svg(graph, &timings);
    } catch (const GraphTooLargeError& e) {
      throw ApiError(422, "GRAPH_TOO_LARGE", e.what());
    }
    // The time went to Graphviz, not the database: say so to browsers and benchmarks.
    res.set_header("Server-Timing",
                   fmt::format("layout;dur={:.1f}, render;dur={:.1f}", timings.layout_ms, timings.render_ms));
    res.set_header("Content-Security-Policy", kSvgPolicy);
    res.set_content(svg, "image/svg+xml");
  } else if (format == "dot") {
    res.set_content(render_graph(graph, GraphFormat::dot), "text/vnd.graphviz; charset=utf-8");
  } else if (format == "mermaid") {
    res.set_content(render_graph(graph, GraphFormat::mermaid), "text/plain; charset=utf-8");
  } else {
    throw ApiError(400, "BAD_REQUEST", fmt::format("`format` must be svg, dot or mermaid, not `{}`", format),
                   {{"field", "format"}});
  }
  res.status = 200;
}

void add_web_routes(HttpCore& http) {
  auto serve_page = [&http](const std::string& pattern, std::string html) {
    http.route(
        "GET", pattern, "",
        [html = std::move(html)](const Request&, Response& res) {
          web_headers(res, kPagePolicy);
          res.status = 200;
          res.set_content(html, "text/html; charset=utf-8");
        },
        Runs::on_io_thread);
  };
  serve_page("/", page("Tasks", kWeb_tasks_html, "tasks.js"));
  serve_page("/tasks/([^/]+)", page("Task", kWeb_task_html, "task.js"));
  serve_page("/templates", page("Templates", kWeb_templates_html, "templates.js"));
  serve_page("/schedules", page("Schedules", kWeb_schedules_html, "schedules.js"));
  serve_page("/dlq", page("Dead letters", kWeb_dlq_html, "dlq.js"));
  serve_page("/dlq/tasks/([^/]+)", page("Dead letter", kWeb_dlq_html, "dlq.js"));
  serve_page("/templates/([^/]+)/([^/]+)/([^/]+)", page("Template", kWeb_template_html, "templates.js"));

  auto assets =
      std::make_shared<const std::map<std::string, Asset, std::less<>>>(std::map<std::string, Asset, std::less<>>{
          {"tasker.css", {kWeb_tasker_css, "text/css; charset=utf-8"}},
          {"states.css", {states_css(), "text/css; charset=utf-8"}},
          {"tasker.js", {kWeb_tasker_js, "text/javascript; charset=utf-8"}},
          {"tasks.js", {kWeb_tasks_js, "text/javascript; charset=utf-8"}},
          {"task.js", {kWeb_task_js, "text/javascript; charset=utf-8"}},
          {"templates.js", {kWeb_templates_js, "text/javascript; charset=utf-8"}},
          {"schedules.js", {kWeb_schedules_js, "text/javascript; charset=utf-8"}},
          {"dlq.js", {kWeb_dlq_js, "text/javascript; charset=utf-8"}},
          {"favicon.svg", {kWeb_favicon_svg, "image/svg+xml"}},
      });
  std::string names;
  for (const auto& [name, asset] : *assets) names += (names.empty() ? "" : ", ") + name;
  http.route(
      "GET", "/ui/([^/]+)", "",
      [assets, names](const Request& req, Response& res) {
        auto it = assets->find(req.matches[1]);
        if (it == assets->end())
          throw ApiError(404, "NOT_FOUND",
                         fmt::format("no file /ui/{}; the web view's files are {}", req.matches[1], names),
                         {{"resource", "file"}, {"id", req.matches[1]}});
        web_headers(res, kPagePolicy);
        res.status = 200;
        res.set_content(it->second.text, it->second.type);
      },
      Runs::on_io_thread);
}

}  // namespace tasker::server
