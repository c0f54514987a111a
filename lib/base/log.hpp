#pragma once
// The library's logger (internal). See include/tasker/logging.hpp.
#include <spdlog/spdlog.h>

namespace tasker::detail {

/// The "tasker" logger; created on first use with the level of TASKER_LOG_LEVEL.
spdlog::logger& log();

}  // namespace tasker::detail
