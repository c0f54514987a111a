// The e2e suite's handlers for dynamic workflows (templates/dynamic_workflows.yaml)
// in C++. tests/e2e/handlers/dynamic_handlers.py holds the same logic for the
// command handler kind: keep the two in step.
#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "handlers.hpp"
#include "tasker/errors.hpp"

namespace e2e {

using tasker::PermanentError;
using tasker::RetryableError;
using tasker::StepContext;

namespace {

json decision(const std::vector<std::string>& steps) {
  if (steps.empty()) return {{"decision_point_outcome", {{"type", "no_branches"}}}};
  return {{"decision_point_outcome", {{"type", "create_steps"}, {"step_names", steps}}}};
}

/// Cursor configs over [0, total) in batches of `size`, batch ids 001, 002, ...
json cursors(long long total, long long size) {
  json out = json::array();
  for (long long start = 0, k = 1; start < total; start += size, ++k) {
    long long end = std::min(total, start + size);
    out.push_back({{"batch_id", fmt::format("{:03}", k)},
                   {"start_cursor", start},
                   {"end_cursor", end},
                   {"batch_size", end - start}});
  }
  return out;
}

json batches(const std::string& worker, long long total, long long size) {
  if (total == 0) return {{"batch_processing_outcome", {{"type", "no_batches"}}}};
  json c = cursors(total, size);
  return {{"batch_processing_outcome",
           {{"type", "create_batches"},
            {"worker_template_name", worker},
            {"worker_count", c.size()},
            {"total_items", total},
            {"cursor_configs", c}}}};
}

struct Product {
  std::string category;
  long long price_cents, quantity;
};

/// The data rows of tests/e2e/data/<name> (header skipped).
std::vector<Product> read_products(const std::string& name) {
  std::ifstream in(source_dir() / "tests/e2e/data" / name);
  if (!in) throw PermanentError("cannot read " + name, {{"csv", name}});
  std::vector<Product> rows;
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string id, product, category, price, quantity;
    std::getline(fields, id, ',');
    std::getline(fields, product, ',');
    std::getline(fields, category, ',');
    std::getline(fields, price, ',');
    std::getline(fields, quantity, ',');
    rows.push_back({category, std::stoll(price), std::stoll(quantity)});
  }
  return rows;
}

/// Sum the results of a batch's instances (`worker_001`, ...) found among `results`.
json sum_instances(const json& results, const std::string& worker, const std::vector<std::string>& fields) {
  json totals = json::object();
  for (const auto& f : fields) totals[f] = 0;
  int count = 0;
  for (const auto& [name, result] : results.items()) {
    if (name.rfind(worker + "_", 0) != 0) continue;
    ++count;
    for (const auto& f : fields) totals[f] = totals[f].get<long long>() + result.value(f, 0LL);
  }
  totals["batches"] = count;
  return totals;
}

void append_line(const std::filesystem::path& file, const std::string& line) {
  std::ofstream(file, std::ios::app) << line << "\n";
}

json process_items(StepContext& c) {
  const json& cursor = c.initialization().at("cursor");
  const json& checkpoint = c.checkpoint();
  const long long start =
      checkpoint.is_null() ? cursor.at("start_cursor").get<long long>() : checkpoint.at("cursor").get<long long>();
  const long long end = cursor.at("end_cursor");
  long long sum = checkpoint.is_null() ? 0 : checkpoint.at("accumulated_results").get<long long>();
  const long long every = c.context().value("checkpoint_every", 10LL);
  const long long fail_after = c.context().value("fail_after", 0LL);
  const long long item_ms = c.context().value("item_ms", 0LL);
  // The first attempt stops at this item until its worker is killed: a test kills it mid-batch
  // at a known place, whatever the machine's speed.
  const long long hold_at = c.context().value("hold_at", -1LL);
  const auto processed = marker(c.task_uuid(), c.step_name(), "processed");
  long long done = 0;
  for (long long i = start; i < end; ++i) {
    if (c.cancelled()) throw RetryableError("cancelled");
    while (c.attempt() == 1 && i == hold_at) {
      if (c.cancelled()) throw RetryableError("cancelled");
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    append_line(processed, std::to_string(i));
    sum += i;
    ++done;
    if (item_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(item_ms));
    if ((i + 1 - start) % every == 0 && !c.save_checkpoint(i + 1, i + 1, sum))
      throw RetryableError("the claim was lost");
    if (c.attempt() == 1 && fail_after > 0 && done == fail_after)
      throw RetryableError(fmt::format("failing after {} items", done), std::nullopt, {{"checkpoint_progress", i + 1}});
  }
  json previous = nullptr;
  if (c.previous_error()) previous = c.previous_error()->context.value("checkpoint_progress", json(nullptr));
  return {{"sum", sum}, {"resumed_from", start}, {"attempt", c.attempt()}, {"previous_checkpoint_progress", previous}};
}

}  // namespace

const std::map<std::string, tasker::StepHandler>& dynamic_cpp_handlers() {
  static const std::map<std::string, tasker::StepHandler> handlers{
      // --- conditional approval: a decision and a convergence step
      {"approval.validate",
       [](StepContext& c) {
         if (!c.context().contains("amount") || !c.context()["amount"].is_number())
           throw PermanentError("the request has no amount");
         return json{{"amount", c.context()["amount"]}, {"valid", true}};
       }},
      {"approval.route",
       [](StepContext& c) {
         const double amount = c.dependency_result("validate_request").at("amount");
         json out;
         if (c.context().contains("invalid_branch"))
           out = decision({c.context()["invalid_branch"].get<std::string>()});
         else if (amount <= 0)
           out = decision({});
         else if (amount < 1000)
           out = decision({"auto_approve"});
         else if (amount < 5000)
           out = decision({"manager_approval"});
         else
           out = decision({"manager_approval", "finance_review"});
         out["amount"] = amount;
         return out;
       }},
      {"approval.approve",
       [](StepContext& c) {
         return json{{"approved", true}, {"approver", c.initialization().at("approver")}};
       }},
      {"approval.finalize",
       [](StepContext& c) {
         json approvers = json::array();
         for (const char* branch : {"auto_approve", "manager_approval", "finance_review"})
           if (c.dependency_results().contains(branch))
             approvers.push_back(c.dependency_results()[branch].at("approver"));
         return json{{"approved", true},
                     {"approvers", approvers},
                     {"amount", c.ancestor_result("validate_request").at("amount")}};
       }},
      // --- an approval signal's payload deciding the branch (waiting_workflows.yaml)
      {"approval.by_signal",
       [](StepContext& c) {
         const json& approval = c.dependency_result("manager_approval");
         return decision({approval.value("approved", json()) == true ? "grant" : "reject"});
       }},
      // --- batch processing of a CSV file
      {"csv.analyze",
       [](StepContext& c) {
         const std::string csv = c.context().value("csv", "products.csv");
         long long rows = static_cast<long long>(read_products(csv).size());
         if (c.context().contains("row_limit")) rows = std::min(rows, c.context()["row_limit"].get<long long>());
         json out = batches("process_csv_batch", rows, c.initialization().value("batch_size", 200LL));
         out["total_rows"] = rows;
         return out;
       }},
      {"csv.process_batch",
       [](StepContext& c) {
         const json& cursor = c.initialization().at("cursor");
         json out = {{"batch_id", cursor.at("batch_id")}, {"count", 0}, {"value_cents", 0}, {"quantity", 0}};
         if (c.initialization().value("is_no_op", false)) return out;
         const auto rows = read_products(c.context().value("csv", "products.csv"));
         long long count = 0, value = 0, quantity = 0;
         for (long long i = cursor.at("start_cursor"); i < cursor.at("end_cursor").get<long long>(); ++i) {
           const Product& p = rows.at(static_cast<std::size_t>(i));
           ++count;
           value += p.price_cents * p.quantity;
           quantity += p.quantity;
         }
         out["count"] = count;
         out["value_cents"] = value;
         out["quantity"] = quantity;
         return out;
       }},
      {"csv.aggregate",
       [](StepContext& c) {
         // The batchable step is a grandparent: a convergence step gets every ancestor's result.
         const json& analyze = c.dependency_result("analyze_csv");
         json out = sum_instances(c.dependency_results(), "process_csv_batch", {"count", "value_cents", "quantity"});
         out["no_batches"] = analyze.at("batch_processing_outcome").at("type") == "no_batches";
         out["total_rows"] = analyze.at("total_rows");
         return out;
       }},
      // --- a checkpointed batch worker
      {"items.plan",
       [](StepContext& c) {
         const long long n = c.context().value("items", 100LL);
         return batches("process_items", n, n);
       }},
      {"items.process", process_items},
      {"items.sum",
       [](StepContext& c) {
         return json{{"total", c.dependency_result("process_items_001").at("sum")}};
       }},
      // --- diamond, decision and batches
      {"ddb.start",
       [](StepContext& c) {
         return json{{"numbers", c.context().at("numbers")}};
       }},
      {"ddb.filter",
       [](StepContext& c) {
         const bool even = c.initialization().at("keep") == "even";
         json values = json::array();
         for (const auto& n : c.dependency_result("ddb_diamond_start").at("numbers"))
           if ((n.get<long long>() % 2 == 0) == even) values.push_back(n);
         return json{{"values", values}};
       }},
      {"ddb.route",
       [](StepContext& c) {
         const auto evens = c.dependency_result("branch_evens").at("values").size();
         const auto odds = c.dependency_result("branch_odds").at("values").size();
         std::vector<std::string> create;
         if (evens >= odds) create.emplace_back("even_batch_analyzer");
         if (odds >= evens) create.emplace_back("odd_batch_analyzer");
         return decision(create);
       }},
      {"ddb.analyze",
       [](StepContext& c) {
         // The filtered values are two levels up: read by name.
         const json values = c.ancestor_result(c.initialization().at("source")).at("values");
         return batches(c.initialization().at("worker_template_name"), static_cast<long long>(values.size()),
                        c.context().value("batch_size", 2LL));
       }},
      {"ddb.sum_batch",
       [](StepContext& c) {
         const json values = c.ancestor_result(c.initialization().at("source")).at("values");
         const json& cursor = c.initialization().at("cursor");
         long long sum = 0;
         for (long long i = cursor.at("start_cursor"); i < cursor.at("end_cursor").get<long long>(); ++i)
           sum += values.at(static_cast<std::size_t>(i)).get<long long>();
         return json{{"sum", sum}};
       }},
      {"ddb.aggregate",
       [](StepContext& c) { return sum_instances(c.dependency_results(), c.initialization().at("worker"), {"sum"}); }},
  };
  return handlers;
}

}  // namespace e2e
