#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <mutex>

#include "base/log.hpp"
#include "tasker/errors.hpp"
#include "tasker/logging.hpp"

namespace tasker {

namespace {
spdlog::level::level_enum parse_level(std::string_view level, const char* source) {
  auto parsed = spdlog::level::from_str(std::string(level));
  // spdlog maps unknown names to `off`; only "off" itself may mean off.
  if (parsed == spdlog::level::off && level != "off")
    throw ConfigurationError(
        "log_level", source,
        fmt::format("`{}` is not a log level (trace, debug, info, warn, error, critical, off)", level));
  return parsed;
}
}  // namespace

namespace detail {
spdlog::logger& log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::get("tasker");
    if (!l) l = spdlog::stderr_color_mt("tasker");
    const char* env = std::getenv("TASKER_LOG_LEVEL");
    l->set_level(env && *env ? parse_level(env, "TASKER_LOG_LEVEL") : spdlog::level::warn);
    return l;
  }();
  return *logger;
}
}  // namespace detail

void set_log_level(std::string_view level) { detail::log().set_level(parse_level(level, "set_log_level")); }

}  // namespace tasker
