// The analytics pipeline of tasker's seed (its diamond ETL): three extracts run
// in parallel, then transform_metrics joins them, then generate_insights and
// update_dashboard. The extracts read small in-memory sources generated here;
// the transform computes real metrics from them.
//
//   data_pipeline [--db URL] [--fail-source users|orders|products] [--templates PATH]
#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <tasker/tasker.hpp>

#include <algorithm>
#include <map>

#include "progress.hpp"

using tasker::json;

namespace {

/// A deterministic mock source: `n` records built by `make(i)`.
json generate(int n, const std::function<json(int)>& make) {
  json rows = json::array();
  for (int i = 0; i < n; ++i) rows.push_back(make(i));
  return rows;
}

void register_handlers(tasker::HandlerRegistry& registry, const std::string& failing_source) {
  auto extract = [failing_source](std::string source, int count, const std::function<json(int)>& make) {
    return [=](tasker::StepContext& ctx) {
      if (source == failing_source)
        throw tasker::PermanentError(fmt::format("the {} source refused the connection: credentials revoked", source),
                                     {{"source", source}});
      return json{{"source", ctx.initialization().value("source", source)}, {"rows", generate(count, make)}};
    };
  };
  registry.add("data_pipeline.extract_users", extract("users", 40, [](int i) {
                 return json{{"user_id", i}, {"segment", i % 4 == 0 ? "enterprise" : i % 2 ? "consumer" : "smb"}};
               }));
  registry.add(
      "data_pipeline.extract_orders", extract("orders", 300, [](int i) {
        return json{
            {"order_id", i}, {"user_id", (i * 7) % 40}, {"product_id", i % 12}, {"amount", 5.0 + (i * 37) % 200}};
      }));
  registry.add("data_pipeline.extract_products", extract("products", 12, [](int i) {
                 static const char* categories[] = {"hardware", "software", "services"};
                 return json{{"product_id", i}, {"category", categories[i % 3]}};
               }));
  registry.add("data_pipeline.transform_metrics", [](tasker::StepContext& ctx) {
    const json& users = ctx.dependency_result("extract_users").at("rows");
    const json& orders = ctx.dependency_result("extract_orders").at("rows");
    const json& products = ctx.dependency_result("extract_products").at("rows");
    std::map<long long, std::string> segment_of, category_of;
    for (const auto& u : users) segment_of[u.at("user_id")] = u.at("segment");
    for (const auto& p : products) category_of[p.at("product_id")] = p.at("category");
    double revenue = 0;
    std::map<std::string, double> by_category;
    std::map<std::string, int> by_segment;
    for (const auto& o : orders) {
      double amount = o.at("amount");
      revenue += amount;
      by_category[category_of[o.at("product_id")]] += amount;
      by_segment[segment_of[o.at("user_id")]] += 1;
    }
    return json{{"total_revenue", revenue},
                {"order_count", orders.size()},
                {"average_order_value", orders.empty() ? 0.0 : revenue / orders.size()},
                {"revenue_by_category", by_category},
                {"orders_by_segment", by_segment}};
  });
  registry.add("data_pipeline.generate_insights", [](tasker::StepContext& ctx) {
    const json& m = ctx.dependency_result("transform_metrics");
    std::string top_category;
    double top = -1;
    for (const auto& [category, amount] : m.at("revenue_by_category").items())
      if (amount.get<double>() > top) top = amount, top_category = category;
    return json{{"insights",
                 {fmt::format("{} orders, ${:.2f} revenue", m.at("order_count").get<int>(),
                              m.at("total_revenue").get<double>()),
                  fmt::format("top category: {} (${:.2f})", top_category, top),
                  fmt::format("average order ${:.2f}", m.at("average_order_value").get<double>())}}};
  });
  registry.add("data_pipeline.update_dashboard", [](tasker::StepContext& ctx) {
    return json{{"dashboard", ctx.initialization().value("dashboard_id", "executive_overview")},
                {"widgets_updated", ctx.dependency_result("generate_insights").at("insights").size()}};
  });
}

std::string describe(const std::string& step, const json& r) {
  if (!r.is_object()) return r.dump();
  if (r.contains("rows")) return fmt::format("{} rows from {}", r["rows"].size(), r.value("source", "?"));
  if (step == "transform_metrics")
    return fmt::format("{} orders, revenue ${:.2f}", r.value("order_count", 0), r.value("total_revenue", 0.0));
  if (step == "generate_insights") return r.value("insights", json::array()).dump();
  if (step == "update_dashboard") return fmt::format("dashboard {} refreshed", r.value("dashboard", "?"));
  return r.dump();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tasker example: an analytics pipeline with parallel extracts"};
  std::string db, failing, templates_dir;
  app.add_option("--db", db, "Database URL (default: TASKER_DATABASE_URL, else sqlite://tasker.db)");
  app.add_option("--fail-source", failing, "Make one extract fail permanently, to see the other branches finish")
      ->check(CLI::IsMember({"users", "orders", "products"}));
  app.add_option("--templates", templates_dir, "Template folder (default: TASKER_TEMPLATE_PATH, else the project's)");
  CLI11_PARSE(app, argc, argv);
  return example::guarded_main("data_pipeline", [&] {
    example::Session session(db, templates_dir);
    register_handlers(*session.handlers, failing);
    tasker::TaskRequest request;
    request.namespace_name = "data_pipeline";
    request.name = "analytics_pipeline";
    request.context = {{"pipeline_run_id", tasker::new_uuid()},
                       {"date_range", {{"start_date", "2026-10-01"}, {"end_date", "2026-10-31"}}}};
    request.initiator = "examples/data_pipeline";
    fmt::print("tasker example: analytics pipeline on {}\n", session.store->describe());
    tasker::WorkerOptions options = tasker::WorkerOptions::from(session.config);
    options.concurrency = 3;  // the three extracts run side by side
    tasker::TaskView done = session.run(request, options, describe);
    fmt::print("\ntask {} is {} ({})\n", done.uuid, tasker::to_string(done.state),
               tasker::to_string(done.execution_status));
    return done.state == tasker::TaskState::complete ? 0 : 1;
  });
}
