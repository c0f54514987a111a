// A program still written against names that were renamed or moved: the test
// "compat: deprecated names warn" expects the compiler to name each one's
// replacement here (tests/compat/check.cmake).
#include "tasker/config.hpp"
#include "tasker/store.hpp"

tasker::StoreOptions old_style(const tasker::Config& config) {
  tasker::StoreOptions options = tasker::StoreOptions::from(config);
  options.jitter = false;
  return options;
}
