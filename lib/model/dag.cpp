#include "tasker/dag.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <unordered_map>

#include "tasker/errors.hpp"
#include "tasker/template.hpp"

namespace tasker {

namespace {

/// Compressed adjacency: offsets[i]..offsets[i+1] index into targets.
void build_csr(std::size_t n, const std::vector<std::pair<std::uint32_t, std::uint32_t>>& edges, bool by_first,
               std::vector<std::uint32_t>& offsets, std::vector<std::uint32_t>& targets) {
  offsets.assign(n + 1, 0);
  for (const auto& [a, b] : edges) ++offsets[(by_first ? a : b) + 1];
  for (std::size_t i = 0; i < n; ++i) offsets[i + 1] += offsets[i];
  targets.resize(edges.size());
  std::vector<std::uint32_t> cursor(offsets.begin(), offsets.end() - 1);
  for (const auto& [a, b] : edges) targets[cursor[by_first ? a : b]++] = by_first ? b : a;
}

std::string sample_names(const std::vector<std::string>& names) {
  auto end = names.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(names.size(), 8));
  return fmt::format("{}{}", fmt::join(names.begin(), end, ", "), names.size() > 8 ? ", ..." : "");
}

}  // namespace

Dag Dag::build(const std::vector<std::string>& names, const std::vector<std::vector<std::string>>& dependencies,
               std::vector<DagIssue>& issues) {
  Dag dag;
  dag.names_ = names;
  const std::size_t n = names.size();
  std::unordered_map<std::string_view, std::uint32_t> index;
  index.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (names[i].empty()) continue;  // unnamed: nothing can depend on it
    auto [it, inserted] = index.emplace(names[i], static_cast<std::uint32_t>(i));
    if (!inserted) {
      DagIssue issue{DagIssue::Kind::duplicate_step,
                     i,
                     0,
                     it->second,
                     {},
                     fmt::format("step name `{}` is used twice", names[i]),
                     "step names must be unique: rename one"};
      issues.push_back(std::move(issue));
    }
  }

  // Edges parent -> child. `last_parent_of` detects a parent listed twice in O(degree).
  std::vector<std::pair<std::uint32_t, std::uint32_t>> edges;
  std::vector<std::size_t> last_parent_of(n, SIZE_MAX);
  for (std::size_t child = 0; child < n && child < dependencies.size(); ++child) {
    for (std::size_t d = 0; d < dependencies[child].size(); ++d) {
      const std::string& dep = dependencies[child][d];
      auto it = index.find(dep);
      if (it == index.end()) {
        std::string suggestion = closest_match(dep, names);
        issues.push_back(
            {DagIssue::Kind::unknown_dependency,
             child,
             d,
             0,
             {},
             fmt::format("step `{}` depends on `{}`, which is not a step of this template", names[child], dep),
             suggestion.empty() ? fmt::format("steps are: {}", sample_names(names))
                                : fmt::format("did you mean `{}`?", suggestion)});
        continue;
      }
      std::uint32_t parent = it->second;
      if (parent == child) {
        issues.push_back({DagIssue::Kind::self_dependency,
                          child,
                          d,
                          0,
                          {},
                          fmt::format("step `{}` depends on itself", names[child]),
                          fmt::format("remove `{}` from its own dependencies", names[child])});
        continue;
      }
      if (last_parent_of[parent] == child) {
        issues.push_back({DagIssue::Kind::duplicate_dependency,
                          child,
                          d,
                          0,
                          {},
                          fmt::format("step `{}` lists dependency `{}` twice", names[child], dep),
                          "remove the repeated entry"});
        continue;
      }
      last_parent_of[parent] = child;
      edges.emplace_back(parent, static_cast<std::uint32_t>(child));
    }
  }
  build_csr(n, edges, false, dag.parent_offsets_, dag.parent_index_);
  build_csr(n, edges, true, dag.child_offsets_, dag.child_index_);

  // Kahn's algorithm; levels follow from the order.
  std::vector<std::uint32_t> waiting(n);
  std::deque<std::size_t> ready;
  for (std::size_t i = 0; i < n; ++i) {
    waiting[i] = dag.parent_offsets_[i + 1] - dag.parent_offsets_[i];
    if (waiting[i] == 0) ready.push_back(i);
  }
  dag.levels_.assign(n, 0);
  dag.order_.reserve(n);
  while (!ready.empty()) {
    std::size_t node = ready.front();
    ready.pop_front();
    dag.order_.push_back(node);
    for (auto child : dag.children(node)) {
      dag.levels_[child] = std::max(dag.levels_[child], dag.levels_[node] + 1);
      if (--waiting[child] == 0) ready.push_back(child);
    }
  }
  if (dag.order_.size() == n) return dag;

  // Cycles: strongly connected components (iterative Tarjan) of what Kahn left,
  // then one concrete cycle per component, found by BFS inside it.
  constexpr std::uint32_t kUnvisited = UINT32_MAX;
  std::vector<std::uint32_t> order_index(n, kUnvisited), low(n, 0), component(n, kUnvisited);
  std::vector<bool> on_stack(n, false);
  std::vector<std::uint32_t> stack;
  std::uint32_t counter = 0, components = 0;
  std::vector<std::vector<std::size_t>> cyclic_components;
  for (std::size_t start = 0; start < n; ++start) {
    if (waiting[start] == 0 || order_index[start] != kUnvisited) continue;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> frames{{static_cast<std::uint32_t>(start), 0}};
    order_index[start] = low[start] = counter++;
    stack.push_back(static_cast<std::uint32_t>(start));
    on_stack[start] = true;
    while (!frames.empty()) {
      auto& [node, next] = frames.back();
      auto kids = dag.children(node);
      if (next < kids.size()) {
        std::uint32_t child = kids[next++];
        if (waiting[child] == 0) continue;  // not part of any cycle
        if (order_index[child] == kUnvisited) {
          order_index[child] = low[child] = counter++;
          stack.push_back(child);
          on_stack[child] = true;
          frames.emplace_back(child, 0);
        } else if (on_stack[child]) {
          low[node] = std::min(low[node], order_index[child]);
        }
        continue;
      }
      std::uint32_t done = node;
      frames.pop_back();
      if (!frames.empty()) low[frames.back().first] = std::min(low[frames.back().first], low[done]);
      if (low[done] == order_index[done]) {
        std::vector<std::size_t> members;
        std::uint32_t member;
        do {
          member = stack.back();
          stack.pop_back();
          on_stack[member] = false;
          component[member] = components;
          members.push_back(member);
        } while (member != done);
        ++components;
        if (members.size() > 1) cyclic_components.push_back(std::move(members));
      }
    }
  }
  for (auto& members : cyclic_components) {
    std::size_t first = *std::min_element(members.begin(), members.end());
    std::uint32_t comp = component[first];
    std::unordered_map<std::size_t, std::size_t> came_from;
    std::deque<std::size_t> queue{first};
    std::size_t closing = SIZE_MAX;
    while (!queue.empty() && closing == SIZE_MAX) {
      std::size_t node = queue.front();
      queue.pop_front();
      for (auto child : dag.children(node)) {
        if (component[child] != comp) continue;
        if (child == first) {
          closing = node;
          break;
        }
        if (came_from.emplace(child, node).second) queue.push_back(child);
      }
    }
    std::vector<std::size_t> cycle;
    for (std::size_t at = closing; at != first; at = came_from.at(at)) cycle.push_back(at);
    cycle.push_back(first);
    std::reverse(cycle.begin(), cycle.end());
    cycle.push_back(first);
    std::vector<std::string_view> path;
    path.reserve(cycle.size());
    for (auto node : cycle) path.push_back(names[node]);
    issues.push_back({DagIssue::Kind::cycle, first, 0, 0, cycle,
                      fmt::format("dependency cycle: {}", fmt::join(path, " -> ")),
                      "a step cannot depend on itself through other steps; remove one of these dependencies"});
  }
  return dag;
}

namespace {
/// A template's step names and dependency lists, as Dag::build takes them.
struct GraphInput {
  std::vector<std::string> names;
  std::vector<std::vector<std::string>> dependencies;
  explicit GraphInput(const TaskTemplate& tmpl) {
    names.reserve(tmpl.steps.size());
    dependencies.reserve(tmpl.steps.size());
    for (const auto& s : tmpl.steps) {
      names.push_back(s.name);
      dependencies.push_back(s.dependencies);
    }
  }
};
}  // namespace

std::vector<Diagnostic> validate_graph(const TaskTemplate& tmpl) {
  GraphInput input(tmpl);
  std::vector<DagIssue> issues;
  (void)Dag::build(input.names, input.dependencies, issues);
  std::vector<Diagnostic> out;
  for (auto& issue : issues) {
    const StepTemplate& step = tmpl.steps[issue.step];
    if (step.name.empty()) continue;  // a step without a name is reported by the loader
    SourceLocation at = step.location;
    if (at.file.empty()) at.file = tmpl.location.file;
    bool about_dependency = issue.kind == DagIssue::Kind::unknown_dependency ||
                            issue.kind == DagIssue::Kind::self_dependency ||
                            issue.kind == DagIssue::Kind::duplicate_dependency;
    if (about_dependency && issue.dependency < step.dependency_locations.size())
      at = step.dependency_locations[issue.dependency];
    if (issue.kind == DagIssue::Kind::duplicate_step && tmpl.steps[issue.first].location.line > 0)
      issue.hint = fmt::format("the first `{}` is at line {}; step names must be unique", step.name,
                               tmpl.steps[issue.first].location.line);
    Severity severity = issue.kind == DagIssue::Kind::duplicate_dependency ? Severity::warning : Severity::error;
    out.push_back({severity, std::move(at), step.name, std::move(issue.message), std::move(issue.hint)});
  }
  return out;
}

Dag Dag::of(const TaskTemplate& tmpl) {
  std::vector<Diagnostic> diagnostics = validate_graph(tmpl);
  if (has_errors(diagnostics)) throw TemplateError(std::move(diagnostics));
  GraphInput input(tmpl);
  std::vector<DagIssue> ignored;  // only duplicate-dependency warnings remain
  return build(input.names, input.dependencies, ignored);
}

std::optional<std::size_t> Dag::find(std::string_view step_name) const {
  for (std::size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == step_name) return i;
  return std::nullopt;
}

std::span<const std::uint32_t> Dag::parents(std::size_t node) const {
  return {parent_index_.data() + parent_offsets_[node], parent_offsets_[node + 1] - parent_offsets_[node]};
}

std::span<const std::uint32_t> Dag::children(std::size_t node) const {
  return {child_index_.data() + child_offsets_[node], child_offsets_[node + 1] - child_offsets_[node]};
}

std::vector<std::size_t> Dag::roots() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < size(); ++i)
    if (parents(i).empty()) out.push_back(i);
  return out;
}

std::vector<std::size_t> Dag::leaves() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < size(); ++i)
    if (children(i).empty()) out.push_back(i);
  return out;
}

std::vector<std::size_t> Dag::ready(const std::vector<bool>& satisfied) const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < size(); ++i) {
    if (i < satisfied.size() && satisfied[i]) continue;
    auto ps = parents(i);
    if (std::all_of(ps.begin(), ps.end(), [&](std::uint32_t p) { return p < satisfied.size() && satisfied[p]; }))
      out.push_back(i);
  }
  return out;
}

}  // namespace tasker
