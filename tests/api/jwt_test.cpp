// JWT bearer tokens beside API keys (docs/api.md, "JWT"), on a real server:
// keys made by OpenSSL for the run, tokens signed here, every refusal the API
// documents, permissions from the configured claim, and the configuration
// errors a server reports at start.
#include <fmt/format.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <chrono>
#include <fstream>

#include "base/log.hpp"
#include "jwt_signer.hpp"
#include "support.hpp"
#include "tasker/errors.hpp"
#include "tasker/http_api.hpp"

using namespace api_test;
using jwt_test::RsaKey;

namespace {

constexpr const char* kIssuer = "https://auth.example.test/";
constexpr const char* kAudience = "tasker-api";

long long now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// Claims that pass every check: an hour to live.
json claims(json permissions = json::array({"tasks:create", "tasks:read"})) {
  return {{"iss", kIssuer},
          {"aud", kAudience},
          {"sub", "svc-shop"},
          {"iat", now_seconds()},
          {"exp", now_seconds() + 3600},
          {"permissions", std::move(permissions)}};
}

json rs256(const char* kid = nullptr) {
  json h = {{"alg", "RS256"}, {"typ", "JWT"}};
  if (kid) h["kid"] = kid;
  return h;
}

/// A folder for the run's key files, removed at the end.
struct KeyDir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / fmt::format("tasker-jwt-{}", tasker::new_uuid());
  KeyDir() { std::filesystem::create_directories(path); }
  ~KeyDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

tasker::ServerSettings with_jwt(tasker::JwtSettings jwt) {
  tasker::ServerSettings s = test_settings();
  jwt.issuer = kIssuer;
  jwt.audience = kAudience;
  s.jwt = std::move(jwt);
  s.api_keys = {{"ops", sha256_hex("ops-token"), {"*"}}};
  return s;
}

/// The server's warnings while it lives.
struct Warnings {
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  spdlog::level::level_enum level = tasker::detail::log().level();
  Warnings() {
    sink->set_level(spdlog::level::warn);
    sink->set_pattern("%v");
    tasker::detail::log().set_level(std::min(level, spdlog::level::warn));
    tasker::detail::log().sinks().push_back(sink);
  }
  ~Warnings() {
    auto& sinks = tasker::detail::log().sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
    tasker::detail::log().set_level(level);
  }
  [[nodiscard]] std::string text() const {
    std::string all;
    for (const auto& line : sink->last_formatted()) all += line;
    return all;
  }
};

/// Constructing a server with `settings` throws ConfigurationError whose message holds `what`.
void refused_at_start(const tasker::ServerSettings& settings, const std::string& what) {
  auto store = tasker::open_store("sqlite::memory:");
  auto client = std::make_shared<tasker::Client>(store, std::make_shared<tasker::TemplateSet>());
  try {
    tasker::ApiServer server(client, settings);
    FAIL("the server started with ", what);
  } catch (const tasker::ConfigurationError& e) {
    INFO(std::string(e.what()));
    CHECK(std::string(e.what()).find(what) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("jwt: a token signed with the configured key is accepted with its permissions, and every bad token is 401") {
  const RsaKey key;
  const RsaKey other;
  KeyDir dir;
  tasker::JwtSettings jwt;
  jwt.public_key_path = dir.write("public.pem", key.public_pem());
  Warnings warnings;
  ServerFixture s(with_jwt(jwt));

  // Accepted: what the claim grants, and nothing else (403 names the subject and the permission).
  const std::string good = key.sign(rs256(), claims());
  Reply created = s.call_json("POST", "/v1/tasks", linear_request(), good);
  REQUIRE(created.status == 201);
  const std::string uuid = created.body["task_uuid"];
  CHECK(s.call("GET", "/v1/tasks/" + uuid, "", good).status == 200);
  Reply forbidden = s.call("DELETE", "/v1/tasks/" + uuid, "", good);
  s.is_error(forbidden, 403, "FORBIDDEN");
  CHECK(forbidden.body["error"]["message"].get<std::string>().find("`svc-shop` lacks the permission `tasks:cancel`") !=
        std::string::npos);
  s.is_error(s.call("GET", "/v1/tasks", "", good), 403, "FORBIDDEN");
  // `RESOURCE:*` and `*` grant as they do for API keys; the API key still works beside JWT.
  CHECK(s.call("GET", "/v1/tasks", "", key.sign(rs256(), claims({"tasks:*"}))).status == 200);
  CHECK(s.call("GET", "/v1/templates", "", key.sign(rs256(), claims({"*"}))).status == 200);
  CHECK(s.call("GET", "/v1/tasks", "", "ops-token").status == 200);
  // tasker::testing::HttpApi sends a JWT as it sends a key.
  tasker::testing::HttpApiOptions with_token;
  with_token.bearer_token = good;
  CHECK(tasker::testing::HttpApi(s.url(), with_token).get_task(uuid).uuid == uuid);

  const long long now = now_seconds();
  auto with = [&](const char* name, json value) {
    json c = claims();
    c[name] = std::move(value);
    return c;
  };
  auto without = [&](const char* name) {
    json c = claims();
    c.erase(name);
    return c;
  };
  json crit = rs256();
  crit["crit"] = {"exp"};
  json none = {{"alg", "none"}, {"typ", "JWT"}};
  const std::string header_none = jwt_test::base64url(none.dump());
  const std::string payload = jwt_test::base64url(claims({"*"}).dump());  // more than `good` grants
  struct Bad {
    const char* what;
    std::string token;
    const char* message;
    const char* reason;
  };
  const std::vector<Bad> bad = {
      {"expired", key.sign(rs256(), with("exp", now - 3600)), "has expired", "invalid"},
      {"not yet valid", key.sign(rs256(), with("nbf", now + 3600)), "not valid yet", "invalid"},
      {"wrong audience", key.sign(rs256(), with("aud", "another-api")), "audience", "invalid"},
      {"audiences without ours", key.sign(rs256(), with("aud", {"a", "b"})), "audience", "invalid"},
      {"no audience", key.sign(rs256(), without("aud")), "audience", "invalid"},
      {"wrong issuer", key.sign(rs256(), with("iss", "https://evil.example/")), "issuer", "invalid"},
      {"no issuer", key.sign(rs256(), without("iss")), "issuer", "invalid"},
      {"no expiry", key.sign(rs256(), without("exp")), "no expiry", "invalid"},
      {"negative expiry", key.sign(rs256(), with("exp", -1)), "is not a time", "invalid"},
      {"expiry as text", key.sign(rs256(), with("exp", std::to_string(now + 3600))), "is not a time", "invalid"},
      {"huge expiry", key.sign(rs256(), with("exp", 1e300)), "is not a time", "invalid"},
      {"alg none, no signature", header_none + "." + payload + ".", "neither an API key nor a JWT", "malformed"},
      {"alg none, a signature", header_none + "." + payload + ".c2ln", "algorithm \"none\"", "invalid"},
      {"alg None", key.sign(json{{"alg", "None"}}, claims()), "algorithm \"None\"", "invalid"},
      {"HS256 keyed with the public key", jwt_test::sign_hs256({{"alg", "HS256"}}, claims(), key.public_pem()),
       "algorithm \"HS256\"", "invalid"},
      {"rs256 in lower case", key.sign(json{{"alg", "rs256"}}, claims()), "algorithm \"rs256\"", "invalid"},
      {"another key", other.sign(rs256(), claims()), "signature does not verify", "invalid"},
      {"a changed payload", good.substr(0, good.find('.') + 1) + payload + good.substr(good.rfind('.')),
       "signature does not verify", "invalid"},
      {"critical headers", key.sign(crit, claims()), "crit", "invalid"},
      {"permissions not strings", key.sign(rs256(), with("permissions", {1, 2})), "not a list of permission",
       "invalid"},
      {"not a JWT", "a.b", "neither an API key nor a JWT", "malformed"},
      {"bytes beyond base64url", "e30.e30.\xc3\xa9", "neither an API key nor a JWT", "malformed"},
      {"header not JSON", jwt_test::compact("{nope", claims().dump(), "sig"), "not valid", "malformed"},
      {"payload a list", key.sign_text(rs256().dump(), "[1, 2]"), "not valid", "malformed"},
      {"alg a number", key.sign_text(R"({"alg": 256})", claims().dump()), "not valid", "malformed"},
      {"too long", key.sign(rs256(), with("pad", std::string(9000, 'x'))), "longer than 8192 bytes", "malformed"},
  };
  for (const auto& b : bad) {
    INFO(b.what);
    Reply r = s.call("GET", "/v1/tasks/" + uuid, "", b.token);
    s.is_error(r, 401, "UNAUTHORIZED");
    CHECK(r.body["error"]["message"].get<std::string>().find(b.message) != std::string::npos);
    CHECK(r.headers.find("WWW-Authenticate")->second == R"(Bearer error="invalid_token")");
  }
  // A request without any token is told to send one, without `invalid_token`.
  Reply missing = s.call("GET", "/v1/tasks/" + uuid);
  s.is_error(missing, 401, "UNAUTHORIZED");
  CHECK(missing.headers.find("WWW-Authenticate")->second == "Bearer");
  CHECK(missing.body["error"]["message"].get<std::string>().find("an API key or a JWT") != std::string::npos);

  // Counted by reason, and logged (the first refusal; the next ones within 10 s are counted in the next line).
  const std::string scrape = s.call("GET", "/metrics").body.get<std::string>();
  const auto count = [&](const char* reason) {
    return static_cast<double>(
        std::count_if(bad.begin(), bad.end(), [&](const Bad& b) { return b.reason == std::string_view(reason); }));
  };
  CHECK(metric(scrape, "tasker_http_auth_failures_total{reason=\"invalid\"}") == count("invalid"));
  CHECK(metric(scrape, "tasker_http_auth_failures_total{reason=\"malformed\"}") == count("malformed"));
  CHECK(metric(scrape, "tasker_http_auth_failures_total{reason=\"forbidden\"}") == 2);
  CHECK(warnings.text().find("authentication failed (forbidden: the token of `svc-shop` lacks the permission") !=
        std::string::npos);
  CHECK(s.client().get_task(uuid).state == tasker::TaskState::pending);  // the refused DELETE changed nothing
}

TEST_CASE("jwt: with a JWKS file the token's kid chooses the key, and permissions come from a `scope` string") {
  const RsaKey first;
  const RsaKey second;
  KeyDir dir;
  json ec_key = {{"kty", "EC"}, {"kid", "ec-1"}, {"crv", "P-256"}, {"x", "AAAA"}, {"y", "AAAA"}};
  json encryption = second.jwk("enc-1");
  encryption["use"] = "enc";
  const json jwks = {{"keys", {first.jwk("k1"), second.jwk("k2"), ec_key, encryption}}};
  tasker::JwtSettings jwt;
  jwt.jwks_path = dir.write("jwks.json", jwks.dump());
  jwt.permissions_claim = "scope";
  Warnings warnings;
  ServerFixture s(with_jwt(jwt));
  // The keys left out are named in the log.
  CHECK(warnings.text().find("key \"ec-1\" has `kty` \"EC\"") != std::string::npos);
  CHECK(warnings.text().find("key \"enc-1\" is not for signatures") != std::string::npos);

  json c = claims();
  c.erase("permissions");
  c["scope"] = "tasks:create tasks:read";
  CHECK(s.call_json("POST", "/v1/tasks", linear_request(), first.sign(rs256("k1"), c)).status == 201);
  CHECK(s.call_json("POST", "/v1/tasks", linear_request(2), second.sign(rs256("k2"), c)).status == 201);
  s.is_error(s.call("GET", "/v1/tasks", "", second.sign(rs256("k2"), c)), 403, "FORBIDDEN");  // no tasks:list
  for (const auto& [token, message] : std::vector<std::pair<std::string, std::string>>{
           {second.sign(rs256("k1"), c), "signature does not verify"},
           {first.sign(rs256("k3"), c), "key \"k3\" is not in the JWKS"},
           {first.sign(rs256(), c), "names no key (`kid`)"},
           {first.sign(rs256("ec-1"), c), "key \"ec-1\" is not in the JWKS"}}) {
    Reply r = s.call("GET", "/v1/templates", "", token);
    s.is_error(r, 401, "UNAUTHORIZED");
    CHECK(r.body["error"]["message"].get<std::string>().find(message) != std::string::npos);
  }
}

TEST_CASE("jwt: settings a server cannot use stop it at start, naming the setting and the file") {
  const RsaKey key;
  KeyDir dir;
  tasker::ServerSettings s = with_jwt({});
  s.api_keys.clear();
  s.listen = "0.0.0.0:0";  // JWT alone is enough beyond loopback
  s.jwt.public_key = key.public_pem();
  {
    auto store = tasker::open_store("sqlite::memory:");
    auto client = std::make_shared<tasker::Client>(store, std::make_shared<tasker::TemplateSet>());
    CHECK_NOTHROW(tasker::ApiServer(client, s));
  }
  auto jwks = [&](const std::string& text) {
    tasker::ServerSettings t = s;
    t.jwt.public_key.clear();
    t.jwt.jwks_path = dir.write("jwks.json", text);
    return t;
  };
  const std::string jwks_file = (dir.path / "jwks.json").string();
  refused_at_start(jwks("{\"keys\": [ nope"), "the JWKS file is not JSON");
  refused_at_start(jwks("{\"keys\": [ nope"), "(key `server.jwt.jwks_path`, from " + jwks_file + ")");
  refused_at_start(jwks("[]"), "needs a `keys` list");
  refused_at_start(jwks(R"({"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]})"),
                   "holds no usable key (RSA, with a `kid`, for signatures, RS256): key \"h\" has `kty` \"oct\"");
  json no_kid = key.jwk("x");
  no_kid.erase("kid");
  refused_at_start(jwks(json{{"keys", {no_kid}}}.dump()), "key #0 has no `kid`");
  refused_at_start(jwks(json{{"keys", {key.jwk("a"), key.jwk("a")}}}.dump()), "two keys with the `kid` \"a\"");
  const RsaKey weak(1024);
  refused_at_start(jwks(json{{"keys", {weak.jwk("w")}}}.dump()), "is a 1024-bit RSA key; at least 2048 bits");

  tasker::ServerSettings t = s;
  t.jwt.public_key = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  refused_at_start(t, "the key is not a PEM public key");
  refused_at_start(t, "(key `server.jwt.public_key`, from tasker serve)");
  t.jwt.public_key = weak.public_pem();
  refused_at_start(t, "is a 1024-bit RSA key");
  t.jwt.public_key = key.public_pem();
  t.jwt.public_key_path = dir.write("public.pem", key.public_pem());
  refused_at_start(t, "set exactly one of server.jwt.public_key");
  t.jwt.public_key.clear();
  t.jwt.public_key_path = (dir.path / "missing.pem").string();
  refused_at_start(t, "cannot read the file");
  t.jwt.public_key_path = dir.write("public.pem", key.public_pem());
  t.jwt.issuer.clear();
  refused_at_start(t, "server.jwt.issuer");
  t.jwt.issuer = kIssuer;
  t.jwt.audience.clear();
  refused_at_start(t, "server.jwt.audience");
}
