#pragma once
// The e2e suite's surfaces: `library` (Client and Worker in this process) and
// `http` (`tasker serve` and worker processes, driven through HttpApi).
#include <memory>
#include <string>

#include "tasker/testing.hpp"

namespace e2e {

/// TASKER_TEST_SURFACE (library | http), default library; main.cpp sets it from --surface.
bool http_surface();

/// The HTTP surface of `h`: starts the real `tasker serve` on a free loopback
/// port against h's database and templates; start_workers() starts a worker
/// process (tests/e2e/worker_process.cpp) with h's handler kind.
std::unique_ptr<tasker::testing::Surface> make_http_surface(tasker::testing::Harness& h);

}  // namespace e2e
