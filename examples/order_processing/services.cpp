#include "services.hpp"

#include <fmt/format.h>

namespace shop {

const std::map<long long, Product>& catalogue() {
  static const std::map<long long, Product> products{
      {1, {"Mechanical keyboard", 89.00}},
      {2, {"USB-C cable", 9.50}},
      {3, {"27\" monitor", 249.00}},
      {4, {"Laptop stand", 39.90}},
      {5, {"Noise-cancelling headphones", 179.00}},
  };
  return products;
}

tasker::json PaymentGateway::charge(const std::string& token, double amount, int attempt) {
  if (token == "tok_declined")
    throw tasker::PermanentError("card declined by the issuer", {{"decline_code", "do_not_honor"}});
  if (token == "tok_flaky" && attempt == 1) throw tasker::RetryableError("payment gateway timed out after 5 s");
  std::lock_guard lock(mutex_);
  return {{"payment_id", fmt::format("pay_{}", next_id_++)}, {"amount_charged", amount}, {"status", "captured"}};
}

Inventory::Inventory() {
  for (const auto& [id, product] : catalogue()) stock_[id] = 25;
}

tasker::json Inventory::reserve(const tasker::json& cart_items) {
  std::lock_guard lock(mutex_);
  for (const auto& item : cart_items) {
    long long id = item.at("product_id"), quantity = item.at("quantity");
    if (stock_[id] < quantity)
      throw tasker::PermanentError(fmt::format("only {} of product {} left", stock_[id], id),
                                   {{"product_id", id}, {"requested", quantity}});
  }
  tasker::json reserved = tasker::json::array();
  for (const auto& item : cart_items) {
    long long id = item.at("product_id"), quantity = item.at("quantity");
    stock_[id] -= quantity;
    reserved.push_back({{"product_id", id}, {"reserved", quantity}, {"left_in_stock", stock_[id]}});
  }
  return {{"updated_products", reserved}};
}

tasker::json Mailer::send(const std::string& to, const std::string& subject) {
  std::lock_guard lock(mutex_);
  sent_.push_back(to + ": " + subject);
  return {{"email_sent_to", to}, {"subject", subject}, {"message_id", fmt::format("msg-{}", sent_.size())}};
}

std::vector<std::string> Mailer::outbox() const {
  std::lock_guard lock(mutex_);
  return sent_;
}

}  // namespace shop
