#pragma once
// tasker logs through its own spdlog logger, named "tasker", to stderr. The
// level comes from TASKER_LOG_LEVEL (default warn) until set here.
#include <string_view>

namespace tasker {

/// trace, debug, info, warn, error, critical or off; throws ConfigurationError otherwise.
void set_log_level(std::string_view level);

}  // namespace tasker
