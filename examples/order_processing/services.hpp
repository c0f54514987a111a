#pragma once
// Mock services of the example shop: a payment gateway, an inventory and a
// mailer. In-memory and thread-safe; they fail the way real ones do, through
// tasker's error types, so the workflow can show retries and permanent errors.
#include <tasker/tasker.hpp>

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace shop {

struct Product {
  std::string name;
  double price;
};

/// The catalogue, by product id.
const std::map<long long, Product>& catalogue();

class PaymentGateway {
 public:
  /// `tok_declined`: a permanent decline. `tok_flaky`: the gateway times out on
  /// the first attempt (a retryable error), then succeeds. Anything else is charged.
  tasker::json charge(const std::string& token, double amount, int attempt);

 private:
  std::mutex mutex_;
  int next_id_{1000};
};

class Inventory {
 public:
  Inventory();
  /// Reserve every line or none; throws PermanentError when stock is short.
  tasker::json reserve(const tasker::json& cart_items);

 private:
  std::mutex mutex_;
  std::map<long long, long long> stock_;
};

class Mailer {
 public:
  tasker::json send(const std::string& to, const std::string& subject);
  [[nodiscard]] std::vector<std::string> outbox() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> sent_;
};

}  // namespace shop
