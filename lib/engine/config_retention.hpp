#pragma once
// The `retention` section of the configuration (internal to config.cpp;
// docs/retention.md): ages by state, per-namespace overrides, how often and in
// what batches workers apply them.
#include <yaml-cpp/yaml.h>

#include <functional>
#include <string>

#include "tasker/config.hpp"

namespace tasker::detail {

/// Apply the mapping `node` of the `retention` section to `settings`; a value
/// it names replaces the one before (a file's environment section overrides
/// single values). `where` names a node's place for messages. Throws
/// ConfigurationError naming the key, where it is and what to write instead.
void set_retention(RetentionSettings& settings, const YAML::Node& node,
                   const std::function<std::string(const YAML::Node&)>& where);

}  // namespace tasker::detail
