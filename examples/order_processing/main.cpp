// The e-commerce checkout of tasker's seed: validate_cart -> process_payment ->
// update_inventory -> create_order -> send_confirmation, with C++ handlers over
// mock services. It submits one order, runs a worker until the order is done,
// prints each step as it happens, and ends with a table of the steps.
//
//   order_processing [--db URL] [--card tok_visa|tok_flaky|tok_declined] [--templates PATH]
#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <tasker/tasker.hpp>

#include <cmath>

#include "progress.hpp"
#include "services.hpp"

using tasker::json;

namespace {

double round_cents(double v) { return std::round(v * 100) / 100; }

void register_handlers(tasker::HandlerRegistry& registry, const std::shared_ptr<shop::PaymentGateway>& gateway,
                       const std::shared_ptr<shop::Inventory>& inventory, const std::shared_ptr<shop::Mailer>& mailer) {
  registry.add("ecommerce.validate_cart", [](tasker::StepContext& ctx) {
    const json& items = ctx.context().at("cart_items");
    if (!items.is_array() || items.empty()) throw tasker::PermanentError("the cart is empty");
    double subtotal = 0;
    json lines = json::array();
    for (const auto& item : items) {
      auto product = shop::catalogue().find(item.at("product_id").get<long long>());
      if (product == shop::catalogue().end())
        throw tasker::PermanentError(fmt::format("unknown product {}", item.at("product_id").dump()));
      double line = product->second.price * item.at("quantity").get<double>();
      subtotal += line;
      lines.push_back({{"product", product->second.name}, {"quantity", item.at("quantity")}, {"line_total", line}});
    }
    double tax = round_cents(subtotal * ctx.initialization().value("tax_rate", 0.08));
    double shipping = subtotal >= ctx.initialization().value("free_shipping_threshold", 75.0)
                          ? 0.0
                          : ctx.initialization().value("flat_shipping_fee", 5.99);
    return json{{"lines", lines},
                {"subtotal", round_cents(subtotal)},
                {"tax", tax},
                {"shipping", shipping},
                {"total", round_cents(subtotal + tax + shipping)}};
  });
  registry.add("ecommerce.process_payment", [gateway](tasker::StepContext& ctx) {
    double total = ctx.dependency_result("validate_cart").at("total");
    return gateway->charge(ctx.context().at("payment_info").at("token"), total, ctx.attempt());
  });
  registry.add("ecommerce.update_inventory", [inventory](tasker::StepContext& ctx) {
    (void)ctx.dependency_result("process_payment");
    return inventory->reserve(ctx.context().at("cart_items"));
  });
  registry.add("ecommerce.create_order", [](tasker::StepContext& ctx) {
    (void)ctx.dependency_result("update_inventory");
    std::string prefix = ctx.initialization().value("order_number_prefix", "ORD");
    return json{{"order_number", fmt::format("{}-{}", prefix, ctx.task_uuid().substr(0, 8))},
                {"status", ctx.initialization().value("initial_status", "confirmed")}};
  });
  registry.add("ecommerce.send_confirmation", [mailer](tasker::StepContext& ctx) {
    std::string order = ctx.dependency_result("create_order").at("order_number");
    return mailer->send(ctx.context().at("customer_info").at("email"), "Your order " + order + " is confirmed");
  });
}

std::string describe(const std::string& step, const json& r) {
  if (!r.is_object()) return r.dump();
  if (step == "validate_cart")
    return fmt::format("{} lines, total ${:.2f}", r.value("lines", json::array()).size(), r.value("total", 0.0));
  if (step == "process_payment")
    return fmt::format("{} charged ${:.2f}", r.value("payment_id", "?"), r.value("amount_charged", 0.0));
  if (step == "update_inventory")
    return fmt::format("{} products reserved", r.value("updated_products", json::array()).size());
  if (step == "create_order") return fmt::format("order {}", r.value("order_number", "?"));
  if (step == "send_confirmation") return fmt::format("email to {}", r.value("email_sent_to", "?"));
  return r.dump();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tasker demo: an e-commerce order run by a durable workflow"};
  std::string db, card = "tok_flaky", templates_dir;
  app.add_option("--db", db, "Database URL (default: TASKER_DATABASE_URL, else sqlite://tasker.db)");
  app.add_option("--card", card,
                 "Payment token: tok_visa (charged), tok_flaky (gateway times out once, then succeeds), "
                 "tok_declined (permanent decline)")
      ->capture_default_str();
  app.add_option("--templates", templates_dir, "Template folder (default: TASKER_TEMPLATE_PATH, else the project's)");
  CLI11_PARSE(app, argc, argv);

  return example::guarded_main("order_processing", [&] {
    example::Session session(db, templates_dir);
    auto gateway = std::make_shared<shop::PaymentGateway>();
    register_handlers(*session.handlers, gateway, std::make_shared<shop::Inventory>(),
                      std::make_shared<shop::Mailer>());

    tasker::TaskRequest request;
    request.namespace_name = "ecommerce";
    request.name = "order_processing";
    request.context = {{"order_reference", tasker::new_uuid()},  // a new order each run (identity is strict)
                       {"customer_info", {{"id", 4217}, {"email", "ada@example.com"}, {"tier", "gold"}}},
                       {"cart_items", {{{"product_id", 1}, {"quantity", 1}}, {{"product_id", 2}, {"quantity", 3}}}},
                       {"payment_info", {{"method", "credit_card"}, {"token", card}, {"amount", 0}}}};
    request.initiator = "examples/order_processing";
    request.reason = "demo order";

    fmt::print("tasker demo: e-commerce order on {} (environment {}, card {})\n", session.store->describe(),
               session.config.environment, card);
    tasker::TaskView done = session.run(request, tasker::WorkerOptions::from(session.config), describe);
    fmt::print("\ntask {} is {} ({:.0f}% complete)\n", done.uuid, tasker::to_string(done.state),
               done.completion_percentage);
    fmt::print("inspect it: tasker status {} --db {}\n", done.uuid, session.db);
    return done.state == tasker::TaskState::complete ? 0 : 1;
  });
}
