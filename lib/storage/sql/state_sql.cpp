#include "storage/sql/state_sql.hpp"

#include <fmt/format.h>

#include <stdexcept>
#include <vector>

#include "tasker/template.hpp"

namespace tasker::detail::sql {

namespace {

std::string quoted(std::string_view name) { return fmt::format("'{}'", name); }

std::string prefixed(std::string_view alias, std::string_view column) {
  return alias.empty() ? std::string(column) : fmt::format("{}.{}", alias, column);
}

/// One line of the rule as an SQL condition ("TRUE" when it has none).
std::string condition(const TaskStateRule& r, const TaskFactsSql& f) {
  std::vector<std::string> parts;
  if (r.state_is) parts.push_back(fmt::format("{} = {}", f.state, literal(*r.state_is)));
  if (r.all_done) parts.push_back(fmt::format("{} + {} >= {}", f.completed, f.resolved, f.total));
  if (r.any_resolved) parts.push_back(fmt::format("{} > 0", f.resolved));
  if (r.failed_and_idle) parts.push_back(fmt::format("{} > 0 AND {} = 0", f.failed, f.active));
  if (r.not_started) parts.push_back(fmt::format("NOT {}", f.started));
  return parts.empty() ? "TRUE" : fmt::format("({})", fmt::join(parts, " AND "));
}

template <typename Value>
std::string rule_case(const TaskFactsSql& f, Value value) {
  std::string out = "CASE";
  for (const auto& r : task_state_rules()) out += fmt::format(" WHEN {} THEN {}", condition(r, f), value(r));
  return out + " END";
}

StepStates named_set(std::string_view name) {
  namespace s = step_sets;
  if (name == "claimable") return s::kClaimable;
  if (name == "holds_worker") return s::kHoldsWorker;
  if (name == "waits") return s::kWaits;
  if (name == "terminal") return s::kTerminal;
  if (name == "unfinished") return s::kUnfinished;
  if (name == "active") return s::kActive;
  if (name == "satisfies_dependents") return s::kSatisfiesDependents;
  if (name == "not_running") return s::kUnfinished - s::kHoldsWorker;
  throw std::invalid_argument(fmt::format("`{}` is not a named set of step states", name));
}

StepMove named_move(std::string_view name) {
  for (const auto& r : step_moves())
    if (r.name == name) return r.move;
  throw std::invalid_argument(fmt::format("`{}` is not a step move (model/state_machine.hpp)", name));
}

TaskCounter named_counter(std::string_view name) {
  for (TaskCounter c : kTaskCounters)
    if (to_string(c) == name) return c;
  throw std::invalid_argument(fmt::format("`{}` is not a task counter", name));
}

std::vector<std::string> split_args(std::string_view args) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = args.find(',', start);
    std::string_view part = args.substr(start, comma == std::string_view::npos ? args.npos : comma - start);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    out.emplace_back(part);
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

TaskFactsSql facts_from(const std::vector<std::string>& a, std::string_view name) {
  if (a.size() != 7)
    throw std::invalid_argument(fmt::format(
        "{{{{{}:...}}}} takes 7 arguments (state, started, total, completed, resolved, failed, active)", name));
  return {a[0], a[1], a[2], a[3], a[4], a[5], a[6]};
}

std::string fragment(std::string_view name, const std::vector<std::string>& a, const Fragments& extra) {
  auto want = [&](std::size_t n) {
    if (a.size() != n)
      throw std::invalid_argument(fmt::format("placeholder `{}` takes {} argument(s), not {}", name, n, a.size()));
  };
  if (name == "step") {
    want(1);
    if (auto s = parse_step_state(a[0])) return literal(*s);
    throw std::invalid_argument(fmt::format("`{}` is not a step state", a[0]));
  }
  if (name == "task") {
    want(1);
    if (auto s = parse_task_state(a[0])) return literal(*s);
    throw std::invalid_argument(fmt::format("`{}` is not a task state", a[0]));
  }
  if (name == "steps") {
    want(2);
    return in_states(a[1], named_set(a[0]));
  }
  if (name == "terminal_task") {
    want(1);
    return in_terminal_task_states(a[0]);
  }
  if (name == "task_state") return task_state_case(facts_from(a, name));
  if (name == "task_reason") return task_reason_case(facts_from(a, name));
  if (name == "count_move") {
    want(3);
    return count_move_sql(named_counter(a[0]), a[1], a[2]);
  }
  if (name == "is_claim") {
    want(2);
    return is_claim_sql(a[0], a[1]);
  }
  if (name == "claim_order") {
    want(1);
    return claim_order(a[0]);
  }
  if (name == "claimable_due") {
    want(2);
    return claimable_due(a[0], a[1]);
  }
  if (name == "move_from") {
    want(2);
    return in_states(a[1], rule_of(named_move(a[0])).from);
  }
  if (name == "move_reason") {
    want(1);
    return quoted(rule_of(named_move(a[0])).reason);
  }
  if (name == "move_to") {
    want(1);
    return literal(target_of(named_move(a[0])));
  }
  if (name == "callable") {
    want(1);
    if (a[0] == "signal") return quoted(kSignalCallable);
    if (a[0] == "sleep") return quoted(kSleepCallable);
    throw std::invalid_argument(fmt::format("`{}` is not a waiting step's callable (signal, sleep)", a[0]));
  }
  if (extra)
    if (auto text = extra(name, a)) return *text;
  throw std::invalid_argument(fmt::format("unknown placeholder `{{{{{}}}}}`", name));
}

}  // namespace

std::string literal(StepState s) { return quoted(to_string(s)); }
std::string literal(TaskState s) { return quoted(to_string(s)); }

std::string in_states(std::string_view column, StepStates set) {
  std::vector<std::string> names;
  for (StepState s : set.members()) names.push_back(literal(s));
  if (names.empty()) return "FALSE";
  return fmt::format("{} IN ({})", column, fmt::join(names, ", "));
}

std::string in_terminal_task_states(std::string_view column) {
  std::vector<std::string> names;
  for (TaskState s : task_states())
    if (is_terminal(s)) names.push_back(literal(s));
  return fmt::format("{} IN ({})", column, fmt::join(names, ", "));
}

std::string task_state_case(const TaskFactsSql& facts) {
  return rule_case(facts, [](const TaskStateRule& r) { return literal(r.then); });
}

std::string task_reason_case(const TaskFactsSql& facts) {
  return rule_case(facts, [](const TaskStateRule& r) { return quoted(r.reason); });
}

std::string count_move_sql(TaskCounter c, std::string_view from, std::string_view to) {
  // A NULL `from` (a creation) is in no set: IN gives NULL, which COALESCE makes 0.
  const StepStates counted = counted_in(c);
  return fmt::format("(CASE WHEN {} THEN 1 ELSE 0 END - CASE WHEN COALESCE({}, FALSE) THEN 1 ELSE 0 END)",
                     in_states(to, counted), in_states(from, counted));
}

std::string is_claim_sql(std::string_view from, std::string_view to) {
  const StepMoveRule& claim = rule_of(StepMove::claimed);
  return fmt::format("(COALESCE({}, FALSE) AND {} = {})", in_states(from, claim.from), to, literal(claim.to));
}

std::string claim_order(std::string_view t) {
  return fmt::format("{} DESC, {}, {}", prefixed(t, "priority"), prefixed(t, "claimable_at"), prefixed(t, "id"));
}

std::string claimable_due(std::string_view t, std::string_view now) {
  return fmt::format("{} AND {} <= {}", in_states(prefixed(t, "state"), step_sets::kClaimable),
                     prefixed(t, "claimable_at"), now);
}

std::string render_sql(std::string_view text, const Fragments& extra) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) break;
    const std::size_t close = text.find("}}", open);
    if (close == std::string_view::npos)
      throw std::invalid_argument(fmt::format("a `{{{{` at offset {} is never closed", open));
    out.append(text.substr(pos, open - pos));
    const std::string_view inner = text.substr(open + 2, close - open - 2);
    const std::size_t colon = inner.find(':');
    const std::string_view name = inner.substr(0, colon);
    // Arguments are separated by commas; they may hold colons (casts: x::TEXT).
    std::vector<std::string> args;
    if (colon != std::string_view::npos) args = split_args(inner.substr(colon + 1));
    out += fragment(name, args, extra);
    pos = close + 2;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace tasker::detail::sql
