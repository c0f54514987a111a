// A program that never names a deprecated member but makes, copies and moves
// the structs that have one: it must compile without a deprecation warning
// (tests/compat/check.cmake compiles it with -Werror).
#include <utility>

#include "tasker/config.hpp"
#include "tasker/store.hpp"

tasker::StoreOptions plain(const tasker::Config& config) {
  tasker::StoreOptions options;
  options.pool_size = 2;
  tasker::StoreOptions copy = options;
  copy = config.store_options();
  tasker::StoreOptions moved = std::move(copy);
  return moved;
}
