// The e2e suite's handlers in C++. tests/e2e/handlers/e2e_handlers.py holds
// the same logic for the command handler kind: keep the two in step.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <thread>

#include "handlers.hpp"
#include "tasker/errors.hpp"

namespace e2e {

using tasker::PermanentError;
using tasker::RetryableError;
using tasker::StepContext;

std::filesystem::path source_dir() { return TASKER_SOURCE_DIR; }

std::filesystem::path marker(const std::string& task_uuid, const std::string& step, const std::string& what) {
  const char* dir = std::getenv("TASKER_E2E_MARKER_DIR");
  std::filesystem::path base = dir && *dir ? dir : std::filesystem::temp_directory_path();
  return base / fmt::format("{}-{}-{}", task_uuid, step, what);
}

std::map<long long, int> processed_items(const std::string& task_uuid, const std::string& step) {
  std::map<long long, int> seen;
  std::ifstream in(marker(task_uuid, step, "processed"));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) ++seen[std::stoll(line)];
  return seen;
}

namespace {

/// Exact while the product fits in 64 bits, then floating point (as Python's
/// exact integers are parsed back as doubles when they overflow).
json multiply(const json& a, const json& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    long long r = 0;
    if (!__builtin_mul_overflow(a.get<long long>(), b.get<long long>(), &r)) return r;
  }
  return a.get<double>() * b.get<double>();
}

json square(const json& v) { return multiply(v, v); }

void touch(const std::filesystem::path& p) { std::ofstream(p) << "1"; }

/// Sleep up to `ms`, returning early when the attempt is cancelled or released.
json sleep_cooperatively(StepContext& ctx, long long ms) {
  touch(marker(ctx.task_uuid(), ctx.step_name(), "started"));
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until && !ctx.cancelled() &&
         !std::filesystem::exists(marker(ctx.task_uuid(), ctx.step_name(), "release")))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return {{"slept", true}, {"attempt", ctx.attempt()}};
}

/// An extract yields `records`, or fails permanently when the context names it in `fail_extract`.
json extract(StepContext& c, long long records) {
  if (c.context().value("fail_extract", "") == c.step_name())
    throw PermanentError("source unavailable: " + c.step_name(), {{"source", c.step_name()}});
  return {{"records", records}, {"source", c.step_name()}};
}

// Catalogue of the mock shop: unit prices by product id.
double price_of(long long product_id) { return 10.0 * static_cast<double>(product_id) + 0.99; }

using Cpp = tasker::StepHandler;
const std::map<std::string, Cpp>& cpp_handlers() {
  static const std::map<std::string, Cpp> handlers{
      // --- math workflows
      {"math.square_input", [](StepContext& c) { return square(c.context().at("even_number")); }},
      {"math.square",
       [](StepContext& c) {
         if (c.dependency_results().size() != 1) throw PermanentError("math.square needs exactly one dependency");
         return square(c.dependency_results().begin().value());
       }},
      {"math.multiply_and_square",
       [](StepContext& c) {
         json product = 1;
         for (const auto& [name, value] : c.dependency_results().items()) product = multiply(product, value);
         return square(product);
       }},
      // --- order fulfillment
      {"order_fulfillment.validate_order",
       [](StepContext& c) {
         const json& items = c.context().at("items");
         if (!items.is_array() || items.empty()) throw PermanentError("an order needs items");
         double total = 0;
         for (const auto& i : items) total += i.at("unit_price").get<double>() * i.at("quantity").get<double>();
         return json{{"order_id", "ORD-" + c.task_uuid().substr(0, 8)}, {"total", total}, {"item_count", items.size()}};
       }},
      {"order_fulfillment.reserve_inventory",
       [](StepContext& c) {
         const json& order = c.dependency_result("validate_order");
         return json{{"reservation_id", "R-" + order.at("order_id").get<std::string>()},
                     {"reserved_items", order.at("item_count")}};
       }},
      {"order_fulfillment.process_payment",
       [](StepContext& c) {
         const json& order = c.dependency_result("validate_order");
         (void)c.dependency_result("reserve_inventory");
         return json{{"payment_id", "P-" + order.at("order_id").get<std::string>()},
                     {"amount_charged", order.at("total")}};
       }},
      {"order_fulfillment.ship_order",
       [](StepContext& c) {
         const json& order = c.dependency_result("validate_order");
         return json{{"tracking_number", "T-" + order.at("order_id").get<std::string>()},
                     {"reservation_id", c.dependency_result("reserve_inventory").at("reservation_id")},
                     {"payment_id", c.dependency_result("process_payment").at("payment_id")}};
       }},
      // --- error scenarios
      {"errors.succeed",
       [](StepContext& c) {
         return json{{"status", "ok"}, {"attempt", c.attempt()}};
       }},
      // --- waiting workflows: a parent whose result names the time a sleep waits for
      {"waiting.plan_reminder",
       [](StepContext& c) {
         return json{{"remind_at", c.context().at("remind_at")}};
       }},
      {"errors.fail_permanently",
       [](StepContext&) -> json {
         throw PermanentError("this step always fails permanently", {{"reason", "test"}});
       }},
      {"errors.fail_retryably",
       [](StepContext& c) -> json {
         throw RetryableError(fmt::format("transient failure on attempt {}", c.attempt()));
       }},
      {"errors.fail_n_times",
       [](StepContext& c) {
         int fail_count = c.initialization().value("fail_count", 2);
         if (c.attempt() <= fail_count)
           throw RetryableError(fmt::format("planned failure {} of {}", c.attempt(), fail_count));
         return json{{"succeeded_on_attempt", c.attempt()}};
       }},
      // --- e-commerce (the seed's blog post 1)
      {"ecommerce.validate_cart",
       [](StepContext& c) {
         const json& items = c.context().at("cart_items");
         if (!items.is_array() || items.empty()) throw PermanentError("the cart is empty");
         double subtotal = 0;
         for (const auto& i : items)
           subtotal += price_of(i.at("product_id").get<long long>()) * i.at("quantity").get<double>();
         double tax = std::round(subtotal * c.initialization().value("tax_rate", 0.08) * 100) / 100;
         return json{{"subtotal", subtotal}, {"tax", tax}, {"total", subtotal + tax}, {"items", items}};
       }},
      {"ecommerce.process_payment",
       [](StepContext& c) {
         const json& cart = c.dependency_result("validate_cart");
         std::string token = c.context().at("payment_info").at("token");
         if (token == "tok_invalid")
           throw PermanentError("card declined: invalid card number", {{"decline_code", "invalid_number"}});
         if (token == "tok_flaky" && c.attempt() <= 2)
           throw RetryableError(fmt::format("payment gateway timed out (attempt {})", c.attempt()));
         return json{{"payment_id", fmt::format("pay_{}", c.task_uuid().substr(0, 8))},
                     {"amount_charged", cart.at("total")},
                     {"attempt", c.attempt()}};
       }},
      {"ecommerce.update_inventory",
       [](StepContext& c) {
         (void)c.dependency_result("process_payment");
         json updated = json::array();
         for (const auto& i : c.context().at("cart_items"))
           updated.push_back({{"product_id", i.at("product_id")}, {"reserved", i.at("quantity")}});
         return json{{"updated_products", updated}};
       }},
      {"ecommerce.create_order",
       [](StepContext& c) {
         const json& inventory = c.dependency_result("update_inventory");
         return json{{"order_number", fmt::format("ORD-{}", c.task_uuid().substr(0, 8))},
                     {"line_count", inventory.at("updated_products").size()}};
       }},
      {"ecommerce.send_confirmation",
       [](StepContext& c) {
         const json& order = c.dependency_result("create_order");
         return json{{"email_sent_to", c.context().at("customer_info").at("email")},
                     {"order_number", order.at("order_number")}};
       }},
      // --- data pipeline (the seed's blog post 2)
      {"data_pipeline.extract_users", [](StepContext& c) { return extract(c, 120); }},
      {"data_pipeline.extract_orders", [](StepContext& c) { return extract(c, 340); }},
      {"data_pipeline.extract_products", [](StepContext& c) { return extract(c, 56); }},
      {"data_pipeline.transform_metrics",
       [](StepContext& c) {
         long long total = 0;
         for (const auto& [name, value] : c.dependency_results().items())
           if (value.is_object()) total += value.value("records", 0LL);
         return json{{"total_records", total}, {"sources", c.dependency_results().size()}};
       }},
      {"data_pipeline.generate_insights",
       [](StepContext& c) {
         long long total = c.dependency_result("transform_metrics").at("total_records");
         return json{{"insights", json::array({fmt::format("{} records analysed", total)})}, {"total_records", total}};
       }},
      {"data_pipeline.update_dashboard",
       [](StepContext& c) {
         return json{{"dashboard", "updated"},
                     {"total_records", c.dependency_result("generate_insights").at("total_records")}};
       }},
      // --- support for recovery and operator scenarios
      {"test.slow", [](StepContext& c) { return sleep_cooperatively(c, c.context().value("sleep_ms", 30'000LL)); }},
      {"test.slow_first_attempt",
       [](StepContext& c) {
         if (c.attempt() == 1) return sleep_cooperatively(c, c.context().value("sleep_ms", 60'000LL));
         return json{{"finished_on_attempt", c.attempt()}};
       }},
      {"test.fail_until_reset",
       [](StepContext& c) {
         auto failed_once = marker(c.task_uuid(), c.step_name(), "failed-once");
         if (!std::filesystem::exists(failed_once)) {
           touch(failed_once);
           throw PermanentError("failing until an operator resets this step");
         }
         return json{{"passed_after_reset", true}};
       }},
  };
  return handlers;
}

}  // namespace

void for_each_handler(const std::function<void(const std::string&, tasker::StepHandler, std::vector<std::string>)>& add,
                      tasker::testing::HandlerKind kind) {
  const std::string script = (source_dir() / "tests/e2e/handlers/e2e_handlers.py").string();
  const std::string module = (source_dir() / "tests/e2e/handlers/e2e_persistent.py").string();
  for (const auto* handlers : {&cpp_handlers(), &dynamic_cpp_handlers()})
    for (const auto& [callable, cpp] : *handlers)
      add(callable, cpp,
          kind == tasker::testing::HandlerKind::persistent
              ? std::vector<std::string>{"python3", "-m", "tasker.worker", module}
              : std::vector<std::string>{"python3", script, callable});
}

void register_handlers(Harness& h) {
  for_each_handler(
      [&](const std::string& callable, tasker::StepHandler cpp, std::vector<std::string> command) {
        h.register_handler(callable, std::move(cpp), std::move(command));
      },
      h.handler_kind());
}

}  // namespace e2e
