#pragma once
// The differential suite's view of a database (differential_test.cpp): every
// row a store wrote, with ids ranked and uuids labelled so that two schemas
// that did the same things compare equal, and what operations return, as JSON.
#include <fmt/format.h>

#include <map>
#include <pqxx/pqxx>
#include <regex>
#include <string>
#include <vector>

#include "storage/backends.hpp"
#include "store/support.hpp"
#include "tasker/clock.hpp"
#include "tasker/lifecycle.hpp"
#include "tasker/store.hpp"

namespace differential {

using tasker::ClaimedStep;
using tasker::json;
using tasker::test::with_option;

/// Replaces every uuid in `j` by a label in order of first appearance, and
/// ids by their rank among the ids of their table, so that two databases
/// that did the same things compare equal.
class Masker {
 public:
  explicit Masker(std::map<std::string, std::map<long long, long long>> ranks = {}) : ranks_(std::move(ranks)) {}

  json mask(json j) {
    if (j.is_string()) {
      std::string s = j.get<std::string>();
      static const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
      std::string out;
      auto begin = std::sregex_iterator(s.begin(), s.end(), uuid);
      std::size_t last = 0;
      for (auto it = begin; it != std::sregex_iterator(); ++it) {
        out += s.substr(last, static_cast<std::size_t>(it->position()) - last);
        auto [label, added] = labels_.emplace(it->str(), fmt::format("uuid#{}", labels_.size()));
        out += label->second;
        last = static_cast<std::size_t>(it->position() + it->length());
      }
      return out + s.substr(last);
    }
    if (j.is_array())
      for (auto& e : j) e = mask(e);
    if (j.is_object())
      for (auto& [k, v] : j.items()) v = id_field(k) ? rank(k, v) : mask(v);
    return j;
  }

  json step_id(long long id) { return rank("step_id", json(id)); }

 private:
  static bool id_field(const std::string& k) {
    return k == "id" || k == "task_id" || k == "step_id" || k == "batch_id" || k == "parent_id" || k == "child_id";
  }
  json rank(const std::string& field, const json& v) {
    if (!v.is_number_integer()) return v;
    const std::string table = field == "task_id" ? "tasks" : "steps";
    const auto& r = ranks_[table];
    auto it = r.find(v.get<long long>());
    return it == r.end() ? json(fmt::format("{}#?{}", table, v.get<long long>()))
                         : json(fmt::format("{}#{}", table, it->second));
  }

  std::map<std::string, std::map<long long, long long>> ranks_;
  std::map<std::string, std::string> labels_;
};

inline json event_json(const tasker::LifecycleEvent& e) {
  return {{"name", e.name},
          {"at", tasker::to_epoch_ms(e.at)},
          {"task_uuid", e.task_uuid},
          {"step_name", e.step_name},
          {"payload", e.payload}};
}

inline json events_json(const std::vector<tasker::LifecycleEvent>& events) {
  json out = json::array();
  for (const auto& e : events) out.push_back(event_json(e));
  return out;
}

inline json claimed_json(const ClaimedStep& s) {
  return {{"step_id", s.step_id},
          {"claim_token", s.claim_token},
          {"step_uuid", s.step_uuid},
          {"step_name", s.step_name},
          {"task_uuid", s.task_uuid},
          {"namespace", s.namespace_name},
          {"task", s.task_name},
          {"version", s.task_version},
          {"callable", s.callable},
          {"initialization", s.initialization},
          {"context", s.context},
          {"dependency_results", s.dependency_results},
          {"attempt", s.attempt},
          {"type", tasker::to_string(s.type)},
          {"checkpoint", s.checkpoint},
          {"previous_error", s.previous_error ? json{{"message", s.previous_error->message},
                                                     {"error_type", s.previous_error->error_type},
                                                     {"retryable", s.previous_error->retryable},
                                                     {"context", s.previous_error->context}}
                                              : json(nullptr)},
          {"max_attempts", s.retry.max_attempts},
          {"timeout_seconds", s.timeout_seconds},
          {"claimed_at", tasker::to_epoch_ms(s.claimed_at)},
          {"lease_expires_at", tasker::to_epoch_ms(s.lease_expires_at)}};
}

/// One database and the path its store takes.
struct Side {
  std::string schema;
  std::string url;
  std::shared_ptr<tasker::Store> store;
  pqxx::connection db;

  Side(const std::string& server, const std::string& name, bool functions)
      : schema(name),
        url(with_option(with_option(server, "schema=" + name),
                        functions ? "server_functions=on" : "server_functions=off")),
        db(server) {
    pqxx::work w(db);
    w.exec0("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    w.commit();
    store = tasker::open_store(url);
  }

  /// Every row the store wrote, ids ranked and uuids labelled.
  json rows() {
    pqxx::nontransaction n(db);
    auto all = [&](const std::string& table, const std::string& order) {
      json out = json::array();
      for (const auto& r :
           n.exec(fmt::format("SELECT row_to_json(x)::text FROM {}.{} x ORDER BY {}", schema, table, order)))
        out.push_back(json::parse(r[0].c_str()));
      return out;
    };
    json tasks = all("tasker_tasks", "id"), steps = all("tasker_steps", "id");
    json edges = all("tasker_step_edges", "parent_id, child_id"), transitions = all("tasker_transitions", "id");
    json signals = all("tasker_signals", "id");
    std::map<std::string, std::map<long long, long long>> ranks;
    for (std::size_t i = 0; i < tasks.size(); ++i) ranks["tasks"][tasks[i]["id"].get<long long>()] = i;
    for (std::size_t i = 0; i < steps.size(); ++i) ranks["steps"][steps[i]["id"].get<long long>()] = i;
    for (auto& t : transitions) t.erase("id");
    for (auto& g : signals) g.erase("id");
    for (auto& s : steps) {
      // JSON columns as text (SQLite) or JSONB: compare their values.
      for (auto& [k, v] : s.items())
        if (v.is_string() && (k == "results" || k == "error")) v = json::parse(v.get<std::string>(), nullptr, false);
    }
    Masker m(ranks);
    return m.mask(
        json{{"tasks", tasks}, {"steps", steps}, {"edges", edges}, {"transitions", transitions}, {"signals", signals}});
  }

  Masker masker() {
    pqxx::nontransaction n(db);
    std::map<std::string, std::map<long long, long long>> ranks;
    long long i = 0;
    for (const auto& r : n.exec(fmt::format("SELECT id FROM {}.tasker_steps ORDER BY id", schema)))
      ranks["steps"][r[0].as<long long>()] = i++;
    i = 0;
    for (const auto& r : n.exec(fmt::format("SELECT id FROM {}.tasker_tasks ORDER BY id", schema)))
      ranks["tasks"][r[0].as<long long>()] = i++;
    return Masker(ranks);
  }
};

/// The first place where `a` and `b` differ, as a JSON pointer with both values.
inline std::string first_difference(const json& a, const json& b, const std::string& at = "") {
  if (a.type() != b.type() || (!a.is_structured() && a != b))
    return fmt::format("{}: {} != {}", at.empty() ? "/" : at, a.dump().substr(0, 400), b.dump().substr(0, 400));
  if (a.is_array()) {
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
      if (a[i] != b[i]) return first_difference(a[i], b[i], at + "/" + std::to_string(i));
    if (a.size() != b.size()) return fmt::format("{}: {} items != {} items", at, a.size(), b.size());
  }
  if (a.is_object()) {
    for (const auto& [k, v] : a.items()) {
      if (!b.contains(k)) return fmt::format("{}/{}: only on the first side", at, k);
      if (v != b[k]) return first_difference(v, b[k], fmt::format("{}/{}", at, k));
    }
    for (const auto& [k, v] : b.items())
      if (!a.contains(k)) return fmt::format("{}/{}: only on the second side", at, k);
  }
  return {};
}

}  // namespace differential
