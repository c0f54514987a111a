#pragma once
// Store::check_consistency: what the store keeps derived (task counters, the
// columns the claim's partial indexes are built on) against what it follows
// from (the steps' states), as the model defines both.
#include <string>
#include <vector>

#include "storage/sql/connection.hpp"

namespace tasker::detail::sql {

/// One line per violation, in one read-only snapshot.
[[nodiscard]] std::vector<std::string> consistency_violations(Connection& c);

}  // namespace tasker::detail::sql
