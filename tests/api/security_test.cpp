// API keys (stored as SHA-256, with permissions), loopback-only anonymous
// access, and TLS with a certificate and key from the configuration.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <regex>

#include "support.hpp"
#include "tasker/errors.hpp"
#include "tasker/http_api.hpp"
#include "tasker/worker.hpp"

using namespace api_test;

namespace {
tasker::ServerSettings with_keys() {
  tasker::ServerSettings s = test_settings();
  s.api_keys = {{"submitter", sha256_hex("submit-token"), {"tasks:create"}},
                {"reader", sha256_hex("read-token"), {"tasks:read", "tasks:list", "steps:read", "templates:read"}},
                {"ops", sha256_hex("ops-token"), {"*"}}};
  return s;
}
}  // namespace

TEST_CASE("auth: a missing or wrong key is 401 and a key without the permission 403 and nothing is written") {
  ServerFixture s(with_keys());
  Reply r = s.call_json("POST", "/v1/tasks", linear_request());
  s.is_error(r, 401, "UNAUTHORIZED");
  CHECK(r.headers.count("WWW-Authenticate") == 1);
  s.is_error(s.call_json("POST", "/v1/tasks", linear_request(), "not-a-key"), 401, "UNAUTHORIZED");
  s.is_error(s.call_json("POST", "/v1/tasks", linear_request(), "read-token"), 403, "FORBIDDEN");
  s.is_error(s.call("GET", "/v1/tasks", "", "submit-token"), 403, "FORBIDDEN");
  s.is_error(s.call("GET", "/v1/templates"), 401, "UNAUTHORIZED");
  s.nothing_written();

  Reply created = s.call_json("POST", "/v1/tasks", linear_request(), "submit-token");
  REQUIRE(created.status == 201);
  const std::string uuid = created.body["task_uuid"];
  CHECK(s.call("GET", "/v1/tasks/" + uuid, "", "read-token").status == 200);
  s.is_error(s.call("DELETE", "/v1/tasks/" + uuid, "", "read-token"), 403, "FORBIDDEN");
  CHECK(s.client().get_task(uuid).state == tasker::TaskState::pending);
  CHECK(s.call("DELETE", "/v1/tasks/" + uuid, "", "ops-token").status == 200);
  // Health, metrics and the document stay public, as in tasker-core.
  for (const char* route : {"/health", "/health/ready", "/metrics", "/api-docs/openapi.json"})
    CHECK(s.call("GET", route).status == 200);
  // HttpApi sends its token.
  tasker::testing::HttpApiOptions with_token;
  with_token.bearer_token = "ops-token";
  tasker::testing::HttpApi api(s.url(), with_token);
  CHECK(api.get_task(uuid).state == tasker::TaskState::cancelled);
  tasker::testing::HttpApi anonymous(s.url());
  CHECK_THROWS_AS((void)anonymous.get_task(uuid), tasker::Error);
}

TEST_CASE("auth: a signal's audit entry names the API key that sent it") {
  ServerFixture s(with_keys(), {}, source_dir() / "tests/e2e/templates");
  tasker::TaskRequest request;
  request.namespace_name = "waiting_e2e";
  request.name = "signal_after_signal";
  const std::string uuid = s.client().submit(request).uuid;
  // A worker takes the signal step, which then waits without it.
  auto handlers = std::make_shared<tasker::HandlerRegistry>();
  handlers->add("errors.succeed", [](tasker::StepContext&) { return json::object(); });
  tasker::Worker(tasker::open_store(s.database_url()), handlers).run_until_idle();
  REQUIRE(s.client().get_step(uuid, "request").state == tasker::StepState::waiting);
  Reply sent = s.call_json("POST", "/v1/tasks/" + uuid + "/signals/submitted",
                           {{"payload", {{"by", "ada"}}}, {"key", "k-1"}}, "ops-token");
  REQUIRE(sent.status == 202);
  CHECK(sent.body["status"] == "delivered");
  Reply audit = s.call("GET", "/v1/tasks/" + uuid + "/workflow_steps/request/audit", "", "read-token");
  REQUIRE(audit.status == 200);
  const json& last = audit.body.back();
  CHECK(last["to_state"] == "complete");
  CHECK(last["payload"]["sender"] == "api key:ops");
  CHECK(last["payload"]["key"] == "k-1");
}

TEST_CASE("auth: what the OpenAPI document marks public (security: []) answers without a key, the rest needs one") {
  ServerFixture s(with_keys());
  const json doc = s.call("GET", "/api-docs/openapi.json").body;
  int operations = 0;
  for (const auto& path_item : doc.at("paths").items()) {
    const std::string& path = path_item.key();  // not a structured binding: doctest's INFO captures it
    const std::string concrete = std::regex_replace(path, std::regex(R"(\{[^}]+\})"), "x");
    for (const auto& [method, operation] : path_item.value().items()) {
      std::string verb = method;
      std::transform(verb.begin(), verb.end(), verb.begin(), [](unsigned char c) { return std::toupper(c); });
      INFO(verb << " " << path);
      ++operations;
      Reply r = s.call(verb, concrete);  // no key: refused before any handler runs, so nothing is written
      if (operation.contains("security") && operation["security"].empty())
        CHECK(r.status == 200);
      else
        s.is_error(r, 401, "UNAUTHORIZED");
    }
  }
  CHECK(operations > 0);
  s.nothing_written();
}

TEST_CASE("auth: listening beyond loopback without API keys is refused before binding") {
  tasker::ServerSettings open = test_settings();
  open.listen = "0.0.0.0:0";
  auto store = tasker::open_store("sqlite::memory:");
  auto client = std::make_shared<tasker::Client>(store, std::make_shared<tasker::TemplateSet>());
  try {
    tasker::ApiServer server(client, open);
    FAIL("an open server without keys was accepted");
  } catch (const tasker::ConfigurationError& e) {
    CHECK(std::string(e.what()).find("needs API keys") != std::string::npos);
  }
  open.listen = "localhost";
  CHECK_THROWS_AS(tasker::ApiServer(client, open), tasker::ConfigurationError);
}

TEST_CASE("tls: HTTPS with the configured certificate and key for a client that trusts it") {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("tasker-tls-{}", tasker::new_uuid());
  std::filesystem::create_directories(dir);
  const std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  const std::string command = fmt::format(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
      "-keyout {} -out {} 2>/dev/null",
      key, cert);
  REQUIRE(std::system(command.c_str()) == 0);
  tasker::ServerSettings settings = test_settings();
  settings.tls_cert = cert;
  settings.tls_key = key;
  settings.handshake_timeout_ms = 300;
  {
    ServerFixture s(settings);
    CHECK(s.url().rfind("https://127.0.0.1:", 0) == 0);
    // Handshakes sent slowly (a TLS record header, then nothing) hold nobody up, and are cut off.
    std::vector<std::unique_ptr<RawSocket>> slow;
    for (int i = 0; i < 20; ++i) {
      slow.push_back(std::make_unique<RawSocket>(s.port()));
      CHECK(slow.back()->send("\x16\x03\x01"));
    }
    tasker::testing::HttpApiOptions trusting;
    trusting.ca_cert_path = cert;
    tasker::testing::HttpApi api(s.url(), trusting);
    auto task = api.submit(linear_task(4));
    CHECK(api.get_task(task.uuid).counts.total == 4);
    tasker::testing::HttpApi untrusting(s.url());  // the system CAs do not know this certificate
    CHECK_THROWS_AS((void)untrusting.get_task(task.uuid), tasker::Error);
    for (auto& c : slow) CHECK(c->closed_by_server());
  }
  settings.tls_key = cert;  // not a key
  auto store = tasker::open_store("sqlite::memory:");
  auto client = std::make_shared<tasker::Client>(store, std::make_shared<tasker::TemplateSet>());
  CHECK_THROWS_AS(tasker::ApiServer(client, settings), tasker::ConfigurationError);
  std::filesystem::remove_all(dir);
}
