#include "tasker/clock.hpp"

namespace tasker {

const SystemClock& SystemClock::instance() {
  static const SystemClock clock;
  return clock;
}

}  // namespace tasker
