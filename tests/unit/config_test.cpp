// Configuration from YAML: defaults, per-environment sections, and errors that
// name the key and where the bad value is.
#include <doctest/doctest.h>

#include <string>

#include "tasker/config.hpp"
#include "tasker/errors.hpp"

using tasker::Config;
using tasker::EventMode;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// The ConfigurationError that loading `yaml` as file.yaml throws (fails the test if none).
tasker::ConfigurationError error_of(const std::string& yaml, const std::string& environment = "development") {
  try {
    (void)Config::from_yaml(yaml, "file.yaml", environment);
  } catch (const tasker::ConfigurationError& e) {
    return e;
  }
  FAIL("no ConfigurationError for:\n" << yaml);
  return tasker::ConfigurationError("", "", "");
}

const char* kLayered = R"(database_url: sqlite://top.db
log_level: info
worker:
  concurrency: 8
  batch_size: 20
event_system:
  mode: polling_only
environments:
  production:
    database_url: postgresql://user:pass@db:5432/prod
    worker:
      concurrency: 32
  test:
    database_url: "sqlite::memory:"
    event_system:
      fallback_interval_ms: 50
)";

}  // namespace

TEST_CASE("config: defaults") {
  for (const char* yaml : {"", "# nothing set\n"}) {
    CAPTURE(yaml);
    Config c = Config::from_yaml(yaml, "file.yaml", "development");
    CHECK(c.environment == "development");
    CHECK(c.database_url == "sqlite://tasker.db");
    CHECK(c.template_paths.empty());
    CHECK(c.pool_size == 4);
    CHECK(c.busy_timeout_ms == 10000);
    CHECK(c.log_level == "warn");
    CHECK(c.worker.concurrency == 4);
    CHECK(c.worker.batch_size == 16);
    CHECK(c.worker.lease_ms == 30000);
    CHECK(c.worker.event_mode == EventMode::hybrid);
    CHECK(c.worker.fallback_interval_ms == 1000);
    CHECK(c.worker.jitter);
  }
}

TEST_CASE("config: every setting is read") {
  Config c = Config::from_yaml(R"(database:
  url: sqlite:///var/lib/tasker.db
  pool_size: 9
  busy_timeout_ms: 2500
template_path: templates:more/templates::/abs
log_level: debug
worker:
  concurrency: 3
  batch_size: 5
  lease_ms: 1500
  jitter: false
event_system:
  mode: event_driven
  fallback_interval_ms: 250
)",
                               "file.yaml", "development");
  CHECK(c.database_url == "sqlite:///var/lib/tasker.db");
  CHECK(c.pool_size == 9);
  CHECK(c.busy_timeout_ms == 2500);
  REQUIRE(c.template_paths.size() == 3u);
  CHECK(c.template_paths[0] == "templates");
  CHECK(c.template_paths[1] == "more/templates");
  CHECK(c.template_paths[2] == "/abs");
  CHECK(c.log_level == "debug");
  CHECK(c.worker.concurrency == 3);
  CHECK(c.worker.batch_size == 5);
  CHECK(c.worker.lease_ms == 1500);
  CHECK_FALSE(c.worker.jitter);
  CHECK(c.worker.event_mode == EventMode::event_driven);
  CHECK(c.worker.fallback_interval_ms == 250);
}

TEST_CASE("config: the environment's section overrides the top level") {
  SUBCASE("production") {
    Config c = Config::from_yaml(kLayered, "file.yaml", "production");
    CHECK(c.environment == "production");
    CHECK(c.database_url == "postgresql://user:pass@db:5432/prod");
    CHECK(c.worker.concurrency == 32);
    CHECK(c.worker.batch_size == 20);  // from the top level
    CHECK(c.worker.event_mode == EventMode::polling_only);
    CHECK(c.worker.fallback_interval_ms == 1000);
    CHECK(c.log_level == "info");
  }
  SUBCASE("test") {
    Config c = Config::from_yaml(kLayered, "file.yaml", "test");
    CHECK(c.database_url == "sqlite::memory:");
    CHECK(c.worker.concurrency == 8);
    CHECK(c.worker.fallback_interval_ms == 50);
  }
  SUBCASE("an environment without a section gets the top level") {
    Config c = Config::from_yaml(kLayered, "file.yaml", "staging");
    CHECK(c.database_url == "sqlite://top.db");
    CHECK(c.worker.concurrency == 8);
  }
}

TEST_CASE("config: jitter is off in the test environment, on elsewhere") {
  CHECK_FALSE(Config::from_yaml("", "file.yaml", "test").worker.jitter);
  CHECK(Config::from_yaml("", "file.yaml", "development").worker.jitter);
  CHECK(Config::from_yaml("", "file.yaml", "production").worker.jitter);
  // An explicit setting still wins.
  CHECK(Config::from_yaml("worker:\n  jitter: true\n", "file.yaml", "test").worker.jitter);
}

TEST_CASE("config: invalid values throw ConfigurationError naming the key and file:line:col") {
  SUBCASE("worker.concurrency: 0") {
    auto e = error_of("worker:\n  concurrency: 0\n");
    CHECK(e.key() == "worker.concurrency");
    CHECK(e.source() == "file.yaml:2:16");
    CHECK(contains(e.what(), "worker.concurrency"));
    CHECK(contains(e.what(), "file.yaml:2:16"));
  }
  SUBCASE("event_system.mode: sometimes") {
    auto e = error_of("event_system:\n  mode: sometimes\n");
    CHECK(e.key() == "event_system.mode");
    CHECK(e.source() == "file.yaml:2:9");
    CHECK(contains(e.what(), "sometimes"));
    CHECK(contains(e.what(), "hybrid"));
  }
  SUBCASE("an unknown key") {
    auto e = error_of("log_level: info\nmax_workers: 3\n");
    CHECK(e.key() == "max_workers");
    CHECK(e.source() == "file.yaml:2:14");
    auto nested = error_of("worker:\n  concurency: 2\n");
    CHECK(nested.key() == "worker.concurency");
    CHECK(nested.source() == "file.yaml:2:15");
    CHECK(contains(nested.what(), "did you mean `worker.concurrency`?"));
    CHECK(contains(nested.what(), "docs/configuration.md"));
  }
  SUBCASE("server.read_timeout_ms, replaced by deadlines for the header and the body, names them") {
    auto e = error_of("server:\n  read_timeout_ms: 5000\n");
    CHECK(e.key() == "server.read_timeout_ms");
    CHECK(contains(e.what(), "server.header_timeout_ms"));
    CHECK(contains(e.what(), "server.body_timeout_ms"));
    auto hosts = error_of("server:\n  allowed_hosts: [\"tasker.internal:8080\"]\n");
    CHECK(hosts.key() == "server.allowed_hosts");
  }
  SUBCASE("a misspelt section holding a mapping is an unknown setting, not a value of the wrong shape") {
    auto e = error_of("workers:\n  concurrency: 2\n");
    CHECK(e.key() == "workers");
    CHECK(contains(e.what(), "unknown setting"));
    CHECK_FALSE(contains(e.what(), "single value"));
    auto scalar_section = error_of("worker: 4\n");
    CHECK(scalar_section.key() == "worker");
    CHECK(contains(scalar_section.what(), "mapping"));
  }
  SUBCASE("a database_url that is not a URL") {
    auto e = error_of("database_url: mysql://localhost/db\n");
    CHECK(e.key() == "database_url");
    CHECK(e.source() == "file.yaml:1:15");
    CHECK(contains(e.what(), "mysql://localhost/db"));
    auto nested = error_of("database:\n  url: tasker.db\n");
    CHECK(nested.key() == "database.url");
    CHECK(nested.source() == "file.yaml:2:8");
  }
  SUBCASE("not a number") {
    auto e = error_of("worker:\n  batch_size: lots\n");
    CHECK(e.key() == "worker.batch_size");
    CHECK(e.source() == "file.yaml:2:15");
  }
  SUBCASE("not a boolean") {
    auto e = error_of("worker:\n  jitter: maybe\n");
    CHECK(e.key() == "worker.jitter");
    CHECK(e.source() == "file.yaml:2:11");
  }
  SUBCASE("inside the active environment's section") {
    auto e = error_of("environments:\n  production:\n    worker:\n      concurrency: 0\n", "production");
    CHECK(e.key() == "worker.concurrency");
    CHECK(contains(e.source(), "file.yaml"));
    CHECK(contains(e.source(), "production"));
    CHECK(contains(e.source(), ":4:20"));
  }
  SUBCASE("broken YAML") {
    auto e = error_of("worker:\n  concurrency: 4\nlog_level: a: b\n");
    CHECK(e.source() == "file.yaml:3:13");
    CHECK(contains(e.what(), "invalid YAML"));
  }
}

TEST_CASE("config: event mode names") {
  CHECK(tasker::to_string(EventMode::polling_only) == "polling_only");
  CHECK(tasker::to_string(EventMode::event_driven) == "event_driven");
  CHECK(tasker::to_string(EventMode::hybrid) == "hybrid");
}

TEST_CASE("config: server settings and API keys") {
  const std::string hash(64, 'a');
  Config c = Config::from_yaml(R"(server:
  listen: 0.0.0.0:8443
  max_body_bytes: 65536
  header_timeout_ms: 250
  idle_timeout_ms: 1500
  allowed_hosts: [tasker.internal]
  tls: {cert: /etc/tasker/cert.pem, key: /etc/tasker/key.pem}
  api_keys:
    - name: ops
      sha256: )" + std::string(64, 'A') +
                                   R"(
      permissions: [tasks:*, steps:resolve]
)",
                               "file.yaml", "development");
  CHECK(c.server.listen == "0.0.0.0:8443");
  CHECK(c.server.max_body_bytes == 65536);
  CHECK(c.server.header_timeout_ms == 250);
  CHECK(c.server.idle_timeout_ms == 1500);
  CHECK(c.server.body_timeout_ms == 30'000);  // a default
  CHECK(c.server.allowed_hosts == std::vector<std::string>{"tasker.internal"});
  CHECK(c.server.tls_cert == "/etc/tasker/cert.pem");
  CHECK(c.server.tls_key == "/etc/tasker/key.pem");
  REQUIRE(c.server.api_keys.size() == 1);
  CHECK(c.server.api_keys[0].name == "ops");
  CHECK(c.server.api_keys[0].sha256 == hash);  // normalised to lowercase
  CHECK(c.server.api_keys[0].permissions == std::vector<std::string>{"tasks:*", "steps:resolve"});
  // Defaults: loopback, no keys.
  Config d = Config::from_yaml("", "file.yaml", "development");
  CHECK(d.server.listen == "127.0.0.1:8080");
  CHECK(d.server.api_keys.empty());
}

TEST_CASE("config: bad server settings name the key and what to do") {
  auto e = error_of("server:\n  listen: localhost\n");
  CHECK(e.key() == "server.listen");
  CHECK(contains(e.what(), "HOST:PORT"));
  e = error_of("server:\n  api_keys:\n    - {name: ops, sha256: secret-token, permissions: [tasks:read]}\n");
  CHECK(e.key() == "server.api_keys");
  CHECK(contains(e.what(), "never the token itself"));
  e = error_of("server:\n  api_keys:\n    - {name: ops, sha256: " + std::string(64, 'b') +
               ", permissions: [tasks:destroy]}\n");
  CHECK(contains(e.what(), "unknown permission `tasks:destroy`"));
  e = error_of("server:\n  api_keys:\n    - {name: ops, sha256: " + std::string(64, 'b') + "}\n");
  CHECK(contains(e.what(), "has no permissions"));
  e = error_of("server:\n  max_body_bytes: 10\n");
  CHECK(e.key() == "server.max_body_bytes");
}

TEST_CASE("config: server.jwt, from the file and from tasker-core's environment variables") {
  Config c = Config::from_yaml(R"(server:
  jwt:
    public_key_path: /etc/tasker/jwt-public.pem
    issuer: https://auth.example/
    audience: tasker-api
    permissions_claim: scope
    leeway_seconds: 5
)",
                               "file.yaml", "development");
  CHECK(c.server.jwt.enabled());
  CHECK(c.server.jwt.public_key_path == "/etc/tasker/jwt-public.pem");
  CHECK(c.server.jwt.issuer == "https://auth.example/");
  CHECK(c.server.jwt.audience == "tasker-api");
  CHECK(c.server.jwt.permissions_claim == "scope");
  CHECK(c.server.jwt.leeway_seconds == 5);
  Config d = Config::from_yaml("", "file.yaml", "development");
  CHECK_FALSE(d.server.jwt.enabled());
  CHECK(d.server.jwt.permissions_claim == "permissions");
  CHECK(d.server.jwt.leeway_seconds == 60);

  auto e = error_of("server:\n  jwt:\n    leeway_seconds: 7200\n");
  CHECK(e.key() == "server.jwt.leeway_seconds");
  e = error_of("server:\n  jwt:\n    jwks_url: https://auth.example/jwks.json\n");
  CHECK(e.key() == "server.jwt.jwks_url");
  CHECK(contains(e.what(), "unknown setting"));
  e = error_of("server:\n  jwt:\n    permissions_claim: ''\n");
  CHECK(e.key() == "server.jwt.permissions_claim");

  ::setenv("TASKER_JWT_JWKS_PATH", "/etc/tasker/jwks.json", 1);
  ::setenv("TASKER_JWT_ISSUER", "https://id.example/", 1);
  ::setenv("TASKER_JWT_AUDIENCE", "aud-1", 1);
  Config from_env = Config::load();
  CHECK(from_env.server.jwt.jwks_path == "/etc/tasker/jwks.json");
  CHECK(from_env.server.jwt.issuer == "https://id.example/");
  CHECK(from_env.server.jwt.audience == "aud-1");
  for (const char* name : {"TASKER_JWT_JWKS_PATH", "TASKER_JWT_ISSUER", "TASKER_JWT_AUDIENCE"}) ::unsetenv(name);
}
