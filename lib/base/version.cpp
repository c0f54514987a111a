#include "tasker/version.hpp"

namespace tasker {

std::string_view version() noexcept { return TASKER_VERSION_STRING; }

}  // namespace tasker
