// 503 when the database is unreachable: the server reaches PostgreSQL through
// a TCP proxy (tests/multiprocess/commit_cutter.cpp) that is then taken away.
#include <fmt/format.h>

#include "../multiprocess/commit_cutter.hpp"
#include "support.hpp"
#include "tasker/testing.hpp"

using namespace api_test;

TEST_CASE("postgres: an unreachable database is 503 SERVICE_UNAVAILABLE, and readiness says so") {
  const std::string server = tasker::testing::postgres_url_from_environment();
  REQUIRE_MESSAGE(!server.empty(), "needs the test PostgreSQL (ctest fixture postgres_server)");
  auto proxy = std::make_unique<mp::CommitCutter>(server);
  const std::string schema = "api_" + tasker::new_uuid().substr(0, 8);
  ServerFixture s(test_settings(),
                  proxy->url() + (proxy->url().find('?') == std::string::npos ? "?" : "&") + "schema=" + schema);
  REQUIRE(s.call_json("POST", "/v1/tasks", linear_request()).status == 201);
  REQUIRE(s.call("GET", "/health/ready").status == 200);

  proxy.reset();  // every connection to the database breaks, and new ones are refused
  Reply submit = s.call_json("POST", "/v1/tasks", linear_request(8));
  s.is_error(submit, 503, "SERVICE_UNAVAILABLE");
  CHECK(submit.headers.count("Retry-After") == 1);
  s.is_error(s.call("GET", "/v1/tasks"), 503, "SERVICE_UNAVAILABLE");
  Reply ready = s.call("GET", "/health/ready");
  CHECK(ready.status == 503);
  s.conforms(ready, "/health/ready", "get");
  CHECK(ready.body["checks"]["database"]["status"] == "unhealthy");
  CHECK(ready.body["error"]["code"] == "SERVICE_UNAVAILABLE");
  CHECK(s.call("GET", "/health/live").status == 200);  // the process itself is alive
}
