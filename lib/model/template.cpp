#include "tasker/template.hpp"

#include <fmt/format.h>

namespace tasker {

std::string TaskTemplate::qualified_name() const { return fmt::format("{}/{}@{}", namespace_name, name, version); }

const StepTemplate* TaskTemplate::find_step(std::string_view step_name) const {
  for (const auto& step : steps)
    if (step.name == step_name) return &step;
  return nullptr;
}

}  // namespace tasker
