#pragma once
// The step graph of a template: validation (cycles, unknown and self
// dependencies, duplicate names) and queries. All work is linear in the size
// of the graph; adjacency is stored compactly (CSR) so 100k-step graphs are cheap.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tasker/diagnostics.hpp"

namespace tasker {

struct TaskTemplate;

/// One problem found while building a graph.
struct DagIssue {
  enum class Kind { duplicate_step, unknown_dependency, self_dependency, duplicate_dependency, cycle };
  Kind kind{Kind::cycle};
  std::size_t step{0};             ///< index of the step at fault (for cycle: where the cycle was found)
  std::size_t dependency{0};       ///< index within that step's dependency list (dependency kinds)
  std::size_t first{0};            ///< duplicate_step: the index of the first step with that name
  std::vector<std::size_t> cycle;  ///< cycle: steps in execution order; the first repeats at the end
  std::string message;
  std::string hint;
};

/// Every graph problem of a template as located diagnostics (duplicate
/// dependencies are warnings, the rest errors).
[[nodiscard]] std::vector<Diagnostic> validate_graph(const TaskTemplate& tmpl);

/// An immutable, validated DAG. Node indices follow the template's step order.
/// Thread-safe for concurrent reads.
class Dag {
 public:
  /// Build from names and per-step dependency names. Every problem is appended
  /// to `issues`; an edge at fault is dropped, and nodes in cycles get no
  /// topological position (acyclic() is then false).
  static Dag build(const std::vector<std::string>& names, const std::vector<std::vector<std::string>>& dependencies,
                   std::vector<DagIssue>& issues);

  /// The graph of a template; throws TemplateError (with locations) if invalid.
  static Dag of(const TaskTemplate& tmpl);

  [[nodiscard]] std::size_t size() const { return names_.size(); }
  [[nodiscard]] std::size_t edge_count() const { return parent_index_.size(); }
  [[nodiscard]] const std::string& name(std::size_t node) const { return names_[node]; }
  [[nodiscard]] std::optional<std::size_t> find(std::string_view step_name) const;

  [[nodiscard]] std::span<const std::uint32_t> parents(std::size_t node) const;
  [[nodiscard]] std::span<const std::uint32_t> children(std::size_t node) const;
  [[nodiscard]] std::vector<std::size_t> roots() const;
  [[nodiscard]] std::vector<std::size_t> leaves() const;

  [[nodiscard]] bool acyclic() const { return order_.size() == names_.size(); }
  /// Parents before children (Kahn's algorithm, first-in first-out from the roots in template order).
  [[nodiscard]] const std::vector<std::size_t>& topological_order() const { return order_; }
  /// Level of each node: 0 for roots, else 1 + the deepest parent's level.
  [[nodiscard]] const std::vector<int>& levels() const { return levels_; }

  /// Nodes not yet satisfied whose parents are all satisfied (`satisfied[i]`
  /// true for complete or resolved steps).
  [[nodiscard]] std::vector<std::size_t> ready(const std::vector<bool>& satisfied) const;

 private:
  std::vector<std::string> names_;
  std::vector<std::uint32_t> parent_offsets_, parent_index_;  // CSR: parents of i
  std::vector<std::uint32_t> child_offsets_, child_index_;    // CSR: children of i
  std::vector<std::size_t> order_;
  std::vector<int> levels_;
};

}  // namespace tasker
