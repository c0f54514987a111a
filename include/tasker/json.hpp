#pragma once
// The public JSON type. Contexts, results, handler initialization and error
// contexts are all tasker::json; object keys are kept sorted, which makes
// dump() canonical (identity hashing relies on this).
#include <nlohmann/json.hpp>

namespace tasker {
using json = nlohmann::json;
}  // namespace tasker
