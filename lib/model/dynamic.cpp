// Planning the steps created at run time (tasker-core's decision points and
// batch processing), as pure functions over a template. The rules are
// tasker-core's (docs/templates.md, "Dynamic steps"), minus its hazards: a
// step never runs without a declared dependency that could still be created.
#include "tasker/dynamic.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <set>
#include <unordered_map>

#include "tasker/diagnostics.hpp"
#include "tasker/errors.hpp"

namespace tasker {

namespace {

/// The template's steps by name, and each step's dependents.
class Graph {
 public:
  explicit Graph(const TaskTemplate& tmpl) : t_(tmpl), children_(tmpl.steps.size()) {
    for (std::size_t i = 0; i < tmpl.steps.size(); ++i) index_.emplace(tmpl.steps[i].name, i);
    for (std::size_t i = 0; i < tmpl.steps.size(); ++i)
      for (const auto& dep : tmpl.steps[i].dependencies)
        if (auto p = find(dep)) children_[*p].push_back(i);
  }

  [[nodiscard]] std::optional<std::size_t> find(std::string_view name) const {
    auto it = index_.find(name);
    return it == index_.end() ? std::nullopt : std::optional<std::size_t>(it->second);
  }
  [[nodiscard]] const StepTemplate& step(std::size_t i) const { return t_.steps[i]; }
  [[nodiscard]] StepType type(std::size_t i) const { return t_.steps[i].type; }
  [[nodiscard]] const std::vector<std::size_t>& children(std::size_t i) const { return children_[i]; }
  [[nodiscard]] std::size_t size() const { return t_.steps.size(); }
  [[nodiscard]] const TaskTemplate& tmpl() const { return t_; }

  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(t_.steps.size());
    for (const auto& s : t_.steps) out.push_back(s.name);
    return out;
  }

 private:
  const TaskTemplate& t_;
  std::unordered_map<std::string_view, std::size_t> index_;
  std::vector<std::vector<std::size_t>> children_;
};

/// A decision's segment: every step reachable from its children, stopping at
/// other decisions (the segment's exit decisions).
struct Segment {
  std::vector<bool> contains;
  std::vector<std::size_t> exit_decisions;
};

Segment segment_of(const Graph& g, std::size_t decision) {
  Segment seg{std::vector<bool>(g.size(), false), {}};
  std::vector<bool> exit(g.size(), false);
  std::deque<std::size_t> queue(g.children(decision).begin(), g.children(decision).end());
  while (!queue.empty()) {
    std::size_t i = queue.front();
    queue.pop_front();
    if (g.type(i) == StepType::decision && i != decision) {
      if (!exit[i]) exit[i] = true, seg.exit_decisions.push_back(i);
      continue;
    }
    if (seg.contains[i]) continue;
    seg.contains[i] = true;
    for (auto c : g.children(i)) queue.push_back(c);
  }
  return seg;
}

[[noreturn]] void fail(const char* error_type, const std::string& message, json context = json::object()) {
  PermanentError e(message, std::move(context));
  e.set_error_type(error_type);
  throw e;
}

std::string unknown_step_hint(const Graph& g, const std::string& name) {
  std::string suggestion = closest_match(name, g.names());
  return suggestion.empty() ? std::string{} : fmt::format(" (did you mean `{}`?)", suggestion);
}

/// The steps being created, in template order once done, with their edges.
class Builder {
 public:
  Builder(const Graph& g, StepExists exists) : g_(g), exists_(std::move(exists)), in_(g.size(), false) {}

  [[nodiscard]] bool has(std::size_t i) const { return in_[i]; }
  /// Present once created: in this plan, or already in the task.
  [[nodiscard]] bool present(std::string_view name) const {
    if (auto i = g_.find(name); i && in_[*i]) return true;
    return exists_(name);
  }
  void add(std::size_t i) {
    if (!in_[i] && !exists_(g_.step(i).name)) in_[i] = true;
  }

  /// From `roots`, every dependent whose dependencies are all present (or are `also`), transitively.
  void close_forward(const std::vector<std::size_t>& roots, std::string_view also = {}) {
    std::deque<std::size_t> queue(roots.begin(), roots.end());
    while (!queue.empty()) {
      std::size_t i = queue.front();
      queue.pop_front();
      for (auto c : g_.children(i)) {
        if (in_[c] || g_.type(c) == StepType::batch_worker || exists_(g_.step(c).name)) continue;
        const auto& deps = g_.step(c).dependencies;
        if (std::all_of(deps.begin(), deps.end(), [&](const std::string& d) { return d == also || present(d); })) {
          in_[c] = true;
          queue.push_back(c);
        }
      }
    }
  }

  [[nodiscard]] std::size_t count() const { return static_cast<std::size_t>(std::count(in_.begin(), in_.end(), true)); }

  /// Steps (template order) with edges from each present dependency; a
  /// dependency not present is skipped by a convergence step (it waits for what
  /// exists) and replaced by `fallback` for any other step.
  void emit(Expansion& out, std::string_view fallback, const std::string& batch_template = {}) const {
    for (std::size_t i = 0; i < g_.size(); ++i) {
      if (!in_[i]) continue;
      const StepTemplate& s = g_.step(i);
      out.steps.push_back({s.name, i, s.handler.initialization});
      std::set<std::string> parents;
      for (const auto& dep : s.dependencies) {
        if (dep == batch_template) continue;  // instances are linked by the batch plan itself
        if (present(dep))
          parents.insert(dep);
        else if (s.type != StepType::deferred_convergence && !fallback.empty())
          parents.insert(std::string(fallback));
      }
      for (const auto& p : parents) out.edges.emplace_back(p, s.name);
    }
  }

 private:
  const Graph& g_;
  StepExists exists_;
  std::vector<bool> in_;
};

const json& outcome_of(const json& result, const char* key, const char* error_type, std::string_view step,
                       const char* example) {
  if (!result.is_object() || !result.contains(key) || !result[key].is_object())
    fail(error_type, fmt::format("the result of step `{}` has no `{}` object; return e.g. {}", step, key, example),
         {{"result_keys", result.is_object() ? json(json::array()) : json(result.type_name())}});
  const json& outcome = result[key];
  if (!outcome.contains("type") || !outcome["type"].is_string())
    fail(error_type, fmt::format("`{}.type` of step `{}` is missing or not a string", key, step));
  return outcome;
}

}  // namespace

std::vector<Diagnostic> validate_dynamic_steps(const TaskTemplate& tmpl) {
  std::vector<Diagnostic> out;
  if (!tmpl.has_dynamic_steps()) return out;
  Graph g(tmpl);
  auto at = [](const SourceLocation& preferred, const SourceLocation& fallback) {
    return preferred.line > 0 ? preferred : fallback;
  };
  auto batch_worker_named = [&](const std::string& name) {
    auto w = g.find(name);
    return w && g.type(*w) == StepType::batch_worker;
  };
  auto no_worker_hint = [&](const std::string& name) {
    std::vector<std::string> workers;
    for (const auto& s : tmpl.steps)
      if (s.type == StepType::batch_worker) workers.push_back(s.name);
    std::string suggestion = closest_match(name, workers);
    if (!suggestion.empty()) return fmt::format("did you mean `{}`?", suggestion);
    return fmt::format("declare a step `{}` with `type: batch_worker`", name);
  };
  // Steps a decision can create: everything in some decision's segment.
  std::vector<bool> below_decision(g.size(), false);
  for (std::size_t d = 0; d < g.size(); ++d) {
    if (g.type(d) != StepType::decision) continue;
    auto seg = segment_of(g, d);
    for (std::size_t i = 0; i < g.size(); ++i) below_decision[i] = below_decision[i] || seg.contains[i];
  }
  for (std::size_t i = 0; i < g.size(); ++i) {
    const StepTemplate& s = g.step(i);
    switch (s.type) {
      case StepType::decision:
        if (s.dependencies.empty())
          out.push_back({Severity::error, s.location, s.name,
                         fmt::format("decision step `{}` has no dependencies", s.name),
                         "a decision needs at least one dependency (tasker-core requires it): add `dependencies: "
                         "[<step it decides after>]`"});
        break;
      case StepType::batchable: {
        const json& init = s.handler.initialization;
        if (init.is_object() && init.contains("worker_template_name")) {
          const json& name = init["worker_template_name"];
          if (!name.is_string() || !batch_worker_named(name.get<std::string>()))
            out.push_back({Severity::error, at(s.worker_template_name_location, s.location), s.name,
                           fmt::format("`worker_template_name: {}` of batchable step `{}` names no batch_worker step",
                                       name.is_string() ? name.get<std::string>() : name.dump(), s.name),
                           no_worker_hint(name.is_string() ? name.get<std::string>() : std::string{})});
        }
        break;
      }
      case StepType::batch_worker:
        if (!s.batch_config) {
          out.push_back({Severity::error, s.location, s.name,
                         fmt::format("batch_worker step `{}` has no `batch_config`", s.name),
                         fmt::format("add `batch_config: {{worker_template: {}}}` (batch_size, parallelism, "
                                     "cursor_field and failure_strategy are optional)",
                                     s.name)});
        } else if (s.batch_config->worker_template.empty()) {
          out.push_back({Severity::error, at(s.batch_config_location, s.location), s.name,
                         fmt::format("the batch_config of `{}` has no `worker_template`", s.name),
                         fmt::format("add `worker_template: {}`", s.name)});
        } else if (!batch_worker_named(s.batch_config->worker_template)) {
          out.push_back({Severity::error, at(s.batch_config_location, s.location), s.name,
                         fmt::format("`batch_config.worker_template: {}` of `{}` names no batch_worker step",
                                     s.batch_config->worker_template, s.name),
                         no_worker_hint(s.batch_config->worker_template)});
        }
        break;
      case StepType::deferred_convergence: {
        const bool reachable = std::any_of(s.dependencies.begin(), s.dependencies.end(), [&](const std::string& dep) {
          auto p = g.find(dep);
          return p && (g.type(*p) == StepType::batch_worker || below_decision[*p]);
        });
        if (!reachable)
          out.push_back({Severity::error, s.location, s.name,
                         fmt::format("deferred_convergence step `{}` can never be created: none of its dependencies "
                                     "is a batch_worker or a step below a decision",
                                     s.name),
                         "make it depend on the batch_worker step or on a decision's branches, or make it a "
                         "standard step"});
        break;
      }
      case StepType::signal:
      case StepType::sleep:
      case StepType::standard:
        if (s.batch_config)
          out.push_back({Severity::warning, at(s.batch_config_location, s.location), s.name,
                         fmt::format("`batch_config` of `{}` is not used: only batch_worker steps have one", s.name),
                         "add `type: batch_worker`, or remove `batch_config`"});
        break;
    }
  }
  return out;
}

std::vector<bool> initially_created(const TaskTemplate& tmpl) {
  Graph g(tmpl);
  std::vector<bool> created(g.size(), true);
  std::deque<std::size_t> queue;
  for (std::size_t i = 0; i < g.size(); ++i) {
    StepType t = g.type(i);
    if (t == StepType::batch_worker || t == StepType::deferred_convergence) queue.push_back(i);
    if (t == StepType::decision)
      for (auto c : g.children(i)) queue.push_back(c);
  }
  // Whatever depends on a step that is not created waits for it.
  while (!queue.empty()) {
    std::size_t i = queue.front();
    queue.pop_front();
    if (!created[i]) continue;
    created[i] = false;
    for (auto c : g.children(i)) queue.push_back(c);
  }
  return created;
}

Expansion plan_decision(const TaskTemplate& tmpl, std::string_view decision, const json& result,
                        const StepExists& exists, const ExpansionLimits& limits) {
  Graph g(tmpl);
  const auto d = g.find(decision);
  if (!d) fail(kInvalidDecisionOutcome, fmt::format("`{}` is not a step of {}", decision, tmpl.qualified_name()));
  const json& outcome = outcome_of(
      result, "decision_point_outcome", kInvalidDecisionOutcome, decision,
      R"({"decision_point_outcome": {"type": "create_steps", "step_names": ["..."]}} or {"type": "no_branches"})");
  const std::string type = outcome["type"];
  if (type == "no_branches") return {};
  if (type != "create_steps")
    fail(kInvalidDecisionOutcome,
         fmt::format("decision step `{}` returned outcome type `{}`; use create_steps or no_branches", decision, type));
  if (!outcome.contains("step_names") || !outcome["step_names"].is_array())
    fail(kInvalidDecisionOutcome,
         fmt::format("the create_steps outcome of decision step `{}` has no `step_names` list", decision));

  const Segment seg = segment_of(g, *d);
  Builder plan(g, exists);
  std::vector<std::size_t> requested;
  for (const auto& item : outcome["step_names"]) {
    if (!item.is_string())
      fail(kInvalidDecisionOutcome, fmt::format("decision step `{}` named a step with {} {}, not a string", decision,
                                                item.type_name(), item.dump()));
    const std::string name = item;
    auto i = g.find(name);
    if (!i)
      fail(kInvalidDecisionOutcome,
           fmt::format("decision step `{}` asked for step `{}`, which {} does not have{}", decision, name,
                       tmpl.qualified_name(), unknown_step_hint(g, name)),
           {{"step_name", name}});
    if (!seg.contains[*i])
      fail(kInvalidDecisionOutcome,
           fmt::format("decision step `{}` asked for step `{}`, which does not depend on it: a decision creates only "
                       "steps below it (up to the next decision)",
                       decision, name),
           {{"step_name", name}});
    if (g.type(*i) == StepType::batch_worker)
      fail(kInvalidDecisionOutcome,
           fmt::format("decision step `{}` asked for `{}`, a batch_worker: its instances are created by the batchable "
                       "step before it",
                       decision, name),
           {{"step_name", name}});
    requested.push_back(*i);
  }
  if (requested.empty()) return {};

  // The requested steps, and the decisions that end their segment.
  for (auto i : requested) plan.add(i);
  for (auto e : seg.exit_decisions) plan.add(e);
  // Everything below them inside the segment, up to batch workers and convergence steps.
  std::deque<std::size_t> queue(requested.begin(), requested.end());
  while (!queue.empty()) {
    std::size_t i = queue.front();
    queue.pop_front();
    for (auto c : g.children(i)) {
      if (!seg.contains[c] || plan.has(c) || exists(g.step(c).name)) continue;
      if (g.type(c) == StepType::batch_worker || g.type(c) == StepType::deferred_convergence) continue;
      plan.add(c);
      queue.push_back(c);
    }
  }
  // Convergence steps waiting for any of them, and what follows those.
  std::vector<std::size_t> convergence;
  for (std::size_t v = 0; v < g.size(); ++v) {
    if (g.type(v) != StepType::deferred_convergence || plan.has(v) || exists(g.step(v).name)) continue;
    const auto& deps = g.step(v).dependencies;
    if (std::any_of(deps.begin(), deps.end(), [&](const std::string& dep) {
          auto p = g.find(dep);
          return p && plan.has(*p);
        })) {
      plan.add(v);
      convergence.push_back(v);
    }
  }
  plan.close_forward(convergence, decision);

  if (plan.count() > limits.max_steps_per_decision)
    fail(kInvalidDecisionOutcome,
         fmt::format("decision step `{}` would create {} steps, more than the limit of {} per decision "
                     "(dynamic.max_steps_per_decision)",
                     decision, plan.count(), limits.max_steps_per_decision));
  Expansion out;
  plan.emit(out, decision);
  return out;
}

namespace {

/// The instances of batch_worker `worker` for `cursors`, and the convergence steps waiting for them.
Expansion instantiate(const Graph& g, std::string_view batchable, std::size_t worker, const json& cursors, bool no_op,
                      const StepExists& exists, const ExpansionLimits& limits) {
  const StepTemplate& t = g.step(worker);
  const BatchConfig config = t.batch_config.value_or(BatchConfig{});
  if (cursors.size() > limits.max_batch_workers)
    fail(kInvalidBatchOutcome,
         fmt::format("batchable step `{}` asked for {} instances of `{}`, more than the limit of {} "
                     "(dynamic.max_batch_workers)",
                     batchable, cursors.size(), t.name, limits.max_batch_workers));
  Expansion out;
  std::set<std::string> names;
  for (const auto& cursor : cursors) {
    if (!cursor.is_object() || !cursor.contains("batch_id"))
      fail(kInvalidBatchOutcome, fmt::format("a cursor config of batchable step `{}` has no `batch_id`: give each "
                                             "{{\"batch_id\", \"start_cursor\", \"end_cursor\", \"batch_size\"}}",
                                             batchable));
    const json& id = cursor["batch_id"];
    if (!(id.is_string() && !id.get<std::string>().empty()) && !id.is_number_integer())
      fail(kInvalidBatchOutcome,
           fmt::format("batchable step `{}` gave batch_id {}: use a non-empty string", batchable, id.dump()));
    const std::string batch_id = id.is_string() ? id.get<std::string>() : id.dump();
    std::string name = fmt::format("{}_{}", t.name, batch_id);
    if (!names.insert(name).second)
      fail(kInvalidBatchOutcome, fmt::format("batchable step `{}` gave batch_id `{}` twice", batchable, batch_id));
    if (exists(name) || g.find(name))
      fail(kInvalidBatchOutcome,
           fmt::format("batchable step `{}` would create `{}`, but the task already has a step of that name", batchable,
                       name));
    json init = t.handler.initialization.is_object() ? t.handler.initialization : json::object();
    init["cursor"] = {{"batch_id", batch_id},
                      {"start_cursor", cursor.value("start_cursor", json(nullptr))},
                      {"end_cursor", cursor.value("end_cursor", json(nullptr))},
                      {"batch_size", cursor.value("batch_size", json(config.batch_size))}};
    init["batch_metadata"] = {{"cursor_field", config.cursor_field},
                              {"failure_strategy", std::string(to_string(config.failure_strategy))}};
    init["is_no_op"] = no_op;
    init["__template_step_name"] = t.name;
    if (out.steps.size() >= static_cast<std::size_t>(config.parallelism))
      out.waiting_for_slot.push_back(out.steps.size());
    out.edges.emplace_back(std::string(batchable), name);
    out.steps.push_back({std::move(name), worker, std::move(init)});
  }
  // Convergence steps that wait for the worker template: created once, fed by every instance.
  Builder plan(g, [&](std::string_view n) { return exists(n) || names.count(std::string(n)) > 0; });
  std::vector<std::size_t> convergence;
  for (std::size_t v = 0; v < g.size(); ++v) {
    if (g.type(v) != StepType::deferred_convergence || exists(g.step(v).name)) continue;
    const auto& deps = g.step(v).dependencies;
    if (std::find(deps.begin(), deps.end(), t.name) == deps.end()) continue;
    plan.add(v);
    convergence.push_back(v);
    for (const auto& instance : names) out.edges.emplace_back(instance, g.step(v).name);
  }
  plan.close_forward(convergence);
  plan.emit(out, {}, t.name);
  return out;
}

}  // namespace

Expansion plan_batches(const TaskTemplate& tmpl, std::string_view batchable, const json& result,
                       const StepExists& exists, const ExpansionLimits& limits) {
  Graph g(tmpl);
  const auto b = g.find(batchable);
  if (!b) fail(kInvalidBatchOutcome, fmt::format("`{}` is not a step of {}", batchable, tmpl.qualified_name()));
  const json& outcome = outcome_of(
      result, "batch_processing_outcome", kInvalidBatchOutcome, batchable,
      R"({"batch_processing_outcome": {"type": "create_batches", "worker_template_name": "...", "cursor_configs": [...]}} or {"type": "no_batches"})");
  const std::string type = outcome["type"];
  auto worker_named = [&](const json& value, const char* where) -> std::size_t {
    if (!value.is_string())
      fail(kInvalidBatchOutcome,
           fmt::format("{} of batchable step `{}` must name a batch_worker step", where, batchable));
    const std::string name = value;
    auto w = g.find(name);
    if (!w || g.type(*w) != StepType::batch_worker)
      fail(kInvalidBatchOutcome,
           fmt::format("{} of batchable step `{}` is `{}`, which is not a batch_worker step of {}{}", where, batchable,
                       name, tmpl.qualified_name(), w ? std::string{} : unknown_step_hint(g, name)),
           {{"worker_template_name", name}});
    return *w;
  };
  if (type == "no_batches") {
    // tasker-core: a placeholder instance when the batchable step names its worker, else nothing.
    const json& init = g.step(*b).handler.initialization;
    if (!init.is_object() || !init.contains("worker_template_name")) return {};
    std::size_t w = worker_named(init["worker_template_name"], "handler.initialization.worker_template_name");
    json placeholder = json::array({{{"batch_id", "000"}, {"start_cursor", 0}, {"end_cursor", 0}, {"batch_size", 0}}});
    return instantiate(g, batchable, w, placeholder, true, exists, limits);
  }
  if (type != "create_batches")
    fail(kInvalidBatchOutcome,
         fmt::format("batchable step `{}` returned outcome type `{}`; use create_batches or no_batches", batchable,
                     type));
  std::size_t w = worker_named(outcome.value("worker_template_name", json(nullptr)), "worker_template_name");
  if (!outcome.contains("cursor_configs") || !outcome["cursor_configs"].is_array())
    fail(kInvalidBatchOutcome,
         fmt::format("the create_batches outcome of batchable step `{}` has no `cursor_configs` list", batchable));
  return instantiate(g, batchable, w, outcome["cursor_configs"], false, exists, limits);
}

json template_definition(const TaskTemplate& tmpl) {
  json steps = json::array();
  for (const auto& s : tmpl.steps) {
    json step = {{"name", s.name},
                 {"type", std::string(to_string(s.type))},
                 {"dependencies", s.dependencies},
                 {"callable", s.handler.callable},
                 {"initialization", s.handler.initialization},
                 {"retry",
                  {{"max_attempts", s.retry.max_attempts},
                   {"retryable", s.retry.retryable},
                   {"backoff", std::string(to_string(s.retry.backoff))},
                   {"backoff_base_ms", s.retry.backoff_base_ms},
                   {"max_backoff_ms", s.retry.max_backoff_ms}}},
                 {"timeout_seconds", s.timeout_seconds}};
    if (s.batch_config)
      step["batch_config"] = {{"batch_size", s.batch_config->batch_size},
                              {"parallelism", s.batch_config->parallelism},
                              {"cursor_field", s.batch_config->cursor_field},
                              {"worker_template", s.batch_config->worker_template},
                              {"failure_strategy", std::string(to_string(s.batch_config->failure_strategy))}};
    steps.push_back(std::move(step));
  }
  return {{"namespace_name", tmpl.namespace_name}, {"name", tmpl.name}, {"version", tmpl.version}, {"steps", steps}};
}

TaskTemplate template_from_definition(const json& d) {
  TaskTemplate t;
  t.namespace_name = d.at("namespace_name");
  t.name = d.at("name");
  t.version = d.at("version");
  for (const auto& j : d.at("steps")) {
    StepTemplate s;
    s.name = j.at("name");
    s.type = parse_step_type(j.at("type").get<std::string>()).value_or(StepType::standard);
    s.dependencies = j.at("dependencies").get<std::vector<std::string>>();
    s.handler.callable = j.at("callable");
    s.handler.initialization = j.at("initialization");
    const json& r = j.at("retry");
    s.retry.max_attempts = r.at("max_attempts");
    s.retry.retryable = r.at("retryable");
    s.retry.backoff = parse_backoff_kind(r.at("backoff").get<std::string>()).value_or(BackoffKind::exponential);
    s.retry.backoff_base_ms = r.at("backoff_base_ms");
    s.retry.max_backoff_ms = r.at("max_backoff_ms");
    s.timeout_seconds = j.at("timeout_seconds");
    if (j.contains("batch_config")) {
      const json& b = j["batch_config"];
      BatchConfig c;
      c.batch_size = b.at("batch_size");
      c.parallelism = b.at("parallelism");
      c.cursor_field = b.at("cursor_field");
      c.worker_template = b.at("worker_template");
      c.failure_strategy = parse_failure_strategy(b.at("failure_strategy").get<std::string>())
                               .value_or(FailureStrategy::continue_on_failure);
      s.batch_config = c;
    }
    t.steps.push_back(std::move(s));
  }
  return t;
}

}  // namespace tasker
