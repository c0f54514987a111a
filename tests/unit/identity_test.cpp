// Task identity: canonical JSON, SHA-256, and the identity strategies.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "tasker/errors.hpp"
#include "tasker/identity.hpp"

using tasker::IdentityStrategy;
using tasker::json;

namespace {
const json kContext = json::parse(R"({"order_id": 42, "items": [{"sku": "a", "qty": 1}]})");
}

TEST_CASE("identity: canonical_json sorts keys at every depth and drops whitespace") {
  auto a = json::parse(R"({"b": 1, "a": {"z": [3, {"y": 1, "x": 2}], "c": null}, "m": "text"})");
  auto b = json::parse(R"({
      "m": "text",
      "a": {"c": null, "z": [3, {"x": 2, "y": 1}]},
      "b": 1
  })");
  CHECK(tasker::canonical_json(a) == R"({"a":{"c":null,"z":[3,{"x":2,"y":1}]},"b":1,"m":"text"})");
  CHECK(tasker::canonical_json(a) == tasker::canonical_json(b));
  // Arrays keep their order: a different order is a different value.
  CHECK(tasker::canonical_json(json::parse("[1,2]")) != tasker::canonical_json(json::parse("[2,1]")));
  // Invalid UTF-8 is replaced, not thrown on.
  CHECK_NOTHROW((void)tasker::canonical_json(json(std::string("\xff\xfe"))));

  SUBCASE("equal contexts written in different key order have the same identity") {
    auto ha = tasker::identity_hash(IdentityStrategy::strict, "ns", "t", "1.0.0", a, std::nullopt);
    auto hb = tasker::identity_hash(IdentityStrategy::strict, "ns", "t", "1.0.0", b, std::nullopt);
    REQUIRE(ha.has_value());
    CHECK(ha == hb);
  }
}

TEST_CASE("identity: sha256_hex matches the standard test vectors") {
  CHECK(tasker::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(tasker::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(tasker::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("identity: strict depends on namespace, name, version and context") {
  auto base = tasker::identity_hash(IdentityStrategy::strict, "ns", "t", "1.0.0", kContext, std::nullopt);
  REQUIRE(base.has_value());
  CHECK(base->size() == 64u);
  CHECK(base->find_first_not_of("0123456789abcdef") == std::string::npos);
  // Stable: the same inputs give the same hash.
  CHECK(base == tasker::identity_hash(IdentityStrategy::strict, "ns", "t", "1.0.0", kContext, std::nullopt));

  auto other_context = kContext;
  other_context["order_id"] = 43;
  CHECK(base != tasker::identity_hash(IdentityStrategy::strict, "ns", "t", "1.0.0", other_context, std::nullopt));
  CHECK(base != tasker::identity_hash(IdentityStrategy::strict, "ns", "t", "1.0.1", kContext, std::nullopt));
  CHECK(base != tasker::identity_hash(IdentityStrategy::strict, "ns", "u", "1.0.0", kContext, std::nullopt));
  CHECK(base != tasker::identity_hash(IdentityStrategy::strict, "other", "t", "1.0.0", kContext, std::nullopt));
  // Parts cannot run into each other: ("ab","c") is not ("a","bc").
  CHECK(tasker::identity_hash(IdentityStrategy::strict, "ab", "c", "1", kContext, std::nullopt) !=
        tasker::identity_hash(IdentityStrategy::strict, "a", "bc", "1", kContext, std::nullopt));
}

TEST_CASE("identity: an idempotency key wins") {
  const std::optional<std::string> key = "order-42";
  auto strict = tasker::identity_hash(IdentityStrategy::strict, "ns", "t", "1.0.0", kContext, key);
  REQUIRE(strict.has_value());
  // The key replaces context and version...
  CHECK(strict == tasker::identity_hash(IdentityStrategy::strict, "ns", "t", "2.0.0", json::object(), key));
  CHECK(strict != tasker::identity_hash(IdentityStrategy::strict, "ns", "t", "1.0.0", kContext, std::nullopt));
  // ...and the strategy.
  CHECK(strict == tasker::identity_hash(IdentityStrategy::caller_provided, "ns", "t", "1.0.0", kContext, key));
  CHECK(strict == tasker::identity_hash(IdentityStrategy::always_unique, "ns", "t", "1.0.0", kContext, key));
  // A different key is a different identity.
  CHECK(strict != tasker::identity_hash(IdentityStrategy::strict, "ns", "t", "1.0.0", kContext,
                                        std::optional<std::string>{"order-43"}));
}

TEST_CASE("identity: caller_provided without a key throws InvalidRequestError") {
  CHECK_THROWS_AS(
      (void)tasker::identity_hash(IdentityStrategy::caller_provided, "ns", "t", "1.0.0", kContext, std::nullopt),
      tasker::InvalidRequestError);
  try {
    (void)tasker::identity_hash(IdentityStrategy::caller_provided, "ns", "t", "1.0.0", kContext, std::nullopt);
  } catch (const tasker::InvalidRequestError& e) {
    CHECK(std::string(e.what()).find("idempotency_key") != std::string::npos);
  }
}

TEST_CASE("identity: always_unique without a key is never deduplicated") {
  CHECK_FALSE(
      tasker::identity_hash(IdentityStrategy::always_unique, "ns", "t", "1.0.0", kContext, std::nullopt).has_value());
}

TEST_CASE("identity: strategy names round-trip") {
  for (auto s : {IdentityStrategy::strict, IdentityStrategy::caller_provided, IdentityStrategy::always_unique})
    CHECK(tasker::parse_identity_strategy(tasker::to_string(s)) == s);
  CHECK(tasker::to_string(IdentityStrategy::caller_provided) == "caller_provided");
  CHECK_FALSE(tasker::parse_identity_strategy("STRICT").has_value());
}
