// Database URLs parsed without opening anything (storage/{sqlite,postgres}/url.hpp):
// what each form means, and that every malformed one is a ConfigurationError
// naming the problem without showing the password.
#include <doctest/doctest.h>

#include <string>

#include "storage/postgres/url.hpp"
#include "storage/sqlite/url.hpp"
#include "tasker/errors.hpp"

namespace pg = tasker::detail::postgres;
namespace sqlite = tasker::detail::sqlite;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// The message of the ConfigurationError that parsing `url` raises.
std::string pg_error(const std::string& url) {
  try {
    (void)pg::parse_url(url);
  } catch (const tasker::ConfigurationError& e) {
    CHECK(e.key() == "database_url");
    return e.what();
  }
  FAIL("accepted: " << url);
  return {};
}

}  // namespace

TEST_CASE("database url: sqlite forms") {
  CHECK_FALSE(sqlite::parse_url("postgresql://x/y"));
  CHECK_FALSE(sqlite::parse_url("sqlite:relative.db"));
  CHECK_FALSE(sqlite::parse_url("mysql://db"));
  for (const char* plain : {"tasker.db", "./data/x.db", "/var/lib/app/tasker.db"}) {
    auto t = sqlite::parse_url(plain);
    REQUIRE(t);
    CHECK(t->path == plain);
  }
  auto plain_option = sqlite::parse_url("x.db?synchronous=normal");
  REQUIRE(plain_option);
  CHECK(plain_option->path == "x.db");
  CHECK(sqlite::synchronous_of(*plain_option) == "NORMAL");
  for (const char* memory : {"sqlite::memory:", "sqlite://:memory:"}) {
    auto t = sqlite::parse_url(memory);
    REQUIRE(t);
    CHECK(t->path == ":memory:");
    CHECK(t->query.empty());
  }
  auto relative = sqlite::parse_url("sqlite://data/tasker.db");
  REQUIRE(relative);
  CHECK(relative->path == "data/tasker.db");
  auto absolute = sqlite::parse_url("sqlite:///var/lib/tasker.db?synchronous=normal");
  REQUIRE(absolute);
  CHECK(absolute->path == "/var/lib/tasker.db");
  CHECK(absolute->query == "synchronous=normal");
  CHECK(sqlite::synchronous_of(*absolute) == "NORMAL");
  CHECK(sqlite::synchronous_of(*relative) == "FULL");
  CHECK(sqlite::synchronous_of({"x.db", "synchronous=FULL"}) == "FULL");

  CHECK_THROWS_WITH_AS((void)sqlite::parse_url("sqlite://"), doctest::Contains("names no file"),
                       tasker::ConfigurationError);
  CHECK_THROWS_WITH_AS((void)sqlite::parse_url("sqlite://?synchronous=full"), doctest::Contains("names no file"),
                       tasker::ConfigurationError);
  CHECK_THROWS_WITH_AS((void)sqlite::synchronous_of({"x.db", "journal=off"}),
                       doctest::Contains("the only option is synchronous=full|normal"), tasker::ConfigurationError);
}

TEST_CASE("database url: postgresql forms") {
  pg::Target t = pg::parse_url("postgresql://tasker:s3cret@db.example:6543/orders?schema=t1&sslmode=require");
  CHECK(t.schema == "t1");
  CHECK(t.where == "db.example:6543/orders");
  CHECK(t.masked == "postgresql://tasker:***@db.example:6543/orders?schema=t1&sslmode=require");
  CHECK(t.libpq_uri ==
        "postgresql://tasker:s3cret@db.example:6543/orders?sslmode=require&fallback_application_name=tasker");

  pg::Target minimal = pg::parse_url("postgres://");
  CHECK(minimal.where == "localhost:5432 (the default socket)/(the user's database)");
  CHECK(minimal.libpq_uri == "postgres://?fallback_application_name=tasker");

  pg::Target several = pg::parse_url("postgresql://u@[::1]:5433,other/db%2Dx?application_name=me&password=pw");
  CHECK(several.where == "[::1]:5433,other:5432/db-x");
  CHECK(several.masked == "postgresql://u@[::1]:5433,other/db%2Dx?application_name=me&password=***");
  CHECK(several.libpq_uri == "postgresql://u@[::1]:5433,other/db%2Dx?application_name=me&password=pw");

  pg::Target socket = pg::parse_url("postgresql:///tasker?host=/var/run/postgresql");
  CHECK(socket.where == "/var/run/postgresql/tasker");
  CHECK(socket.server_functions);

  pg::Target statements = pg::parse_url("postgresql://h/db?server_functions=off&sslmode=require");
  CHECK_FALSE(statements.server_functions);
  CHECK(statements.libpq_uri == "postgresql://h/db?sslmode=require&fallback_application_name=tasker");
  CHECK(pg::parse_url("postgresql://h/db?server_functions=on").server_functions);
}

TEST_CASE("database url: malformed postgresql URLs name the problem and never the password") {
  CHECK(contains(pg_error("mysql://x"), "must start with postgresql:// or postgres://"));
  CHECK(contains(pg_error("postgresql://u:pw@h/db#frag"), "has a `#` fragment"));
  CHECK(contains(pg_error("postgresql://u:p%zw@h/db"), "`%` not followed by two hex digits"));
  CHECK(contains(pg_error("postgresql://h/a/b"), "`a/b` is not a database name"));
  CHECK(contains(pg_error("postgresql://h/a%2Fb"), "is not a database name"));
  CHECK(contains(pg_error("postgresql://[::1/db"), "has no closing `]`"));
  CHECK(contains(pg_error("postgresql://[::1]x/db"), "unexpected text after `[::1]`"));
  CHECK(contains(pg_error("postgresql://h:/db"), "has an empty port"));
  for (const char* port : {"0", "65536", "99999999999", "12a", "-1"})
    CHECK(contains(pg_error(std::string("postgresql://h:") + port + "/db"), "is not a number in 1..65535"));
  CHECK(contains(pg_error("postgresql://h/db?sslmode"), "is not of the form key=value"));
  CHECK(contains(pg_error("postgresql://h/db?=x"), "is not of the form key=value"));
  CHECK(contains(pg_error("postgresql://h/db?schema=" + std::string(64, 's')), "must be 1 to 63 bytes long"));
  CHECK(contains(pg_error("postgresql://h/db?schema="), "must be 1 to 63 bytes long"));
  CHECK(contains(pg_error("postgresql://h/db?x=%4"), "`%` not followed by two hex digits"));
  CHECK(
      contains(pg_error("postgresql://h/db?server_functions=no"), "server_functions must be `on` or `off`, not `no`"));
  for (const char* url : {"postgresql://user:topsecret@h:0/db", "postgresql://user:topsecret@h/db?x=%",
                          "postgresql://user:topsecret@h/db?password=topsecret&bad"}) {
    CAPTURE(url);
    CHECK_FALSE(contains(pg_error(url), "topsecret"));
  }
}
