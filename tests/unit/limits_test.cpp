// JSON from outside within limits (include/tasker/limits.hpp): parsing stops
// before a level deeper than allowed is built, a built value is measured
// without recursion (its size exactly as dump() would write it), and text
// that is not UTF-8 is found and repaired. The limits come from configuration.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "tasker/config.hpp"
#include "tasker/errors.hpp"
#include "tasker/identity.hpp"
#include "tasker/limits.hpp"

using tasker::json;
using tasker::JsonLimits;
using tasker::LimitError;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// `[[...[1]...]]` nested `depth` levels, as text.
std::string nested_arrays(std::size_t depth) { return std::string(depth, '[') + "1" + std::string(depth, ']'); }

/// {"a":{"a":...1...}} nested `depth` levels, as text.
std::string nested_objects(std::size_t depth) {
  std::string text;
  for (std::size_t i = 0; i < depth; ++i) text += "{\"a\":";
  return text + "1" + std::string(depth, '}');
}

/// The LimitError that `f` throws (fails the test when it throws none).
template <typename F>
LimitError limit_error_of(F&& f) {
  try {
    f();
  } catch (const LimitError& e) {
    return e;
  }
  FAIL("no LimitError");
  return LimitError("", "", 0, 0);
}

}  // namespace

TEST_CASE("limits: parse_json accepts JSON up to max_depth and stops one level deeper, naming the limit") {
  JsonLimits limits;
  limits.max_depth = 4;
  CHECK(tasker::parse_json(nested_arrays(4), limits, "the input") == json::parse(nested_arrays(4)));
  CHECK(tasker::parse_json(nested_objects(4), limits, "the input") == json::parse(nested_objects(4)));
  CHECK(tasker::parse_json("\"deep [[[[[[ in a string\"", limits, "the input") == "deep [[[[[[ in a string");
  for (const std::string& text : {nested_arrays(5), nested_objects(5), std::string(R"({"a": [1, {"b": [[2]]}]})")}) {
    CAPTURE(text);
    LimitError e = limit_error_of([&] { (void)tasker::parse_json(text, limits, "the input"); });
    CHECK(e.limit() == "limits.json_max_depth");
    CHECK(e.actual() == 5);
    CHECK(e.allowed() == 4);
    CHECK(std::string(e.what()) ==
          "the input is nested 5 levels deep, more than limits.json_max_depth allows (4); raise "
          "limits.json_max_depth (environment variable TASKER_LIMITS_JSON_MAX_DEPTH) if such input is expected");
  }
}

TEST_CASE("limits: JSON nested 100,000 levels is refused with its depth, without a crash") {
  // Recursing once per level (dump, a copy, a comparison) overflows the stack here.
  LimitError e = limit_error_of([] { (void)tasker::parse_json(nested_arrays(100'000), JsonLimits{}, "the context"); });
  CHECK(e.actual() == 100'000);
  CHECK(e.allowed() == 128);
  LimitError objects =
      limit_error_of([] { (void)tasker::parse_json(nested_objects(100'000), JsonLimits{}, "the context"); });
  CHECK(objects.actual() == 100'000);
}

TEST_CASE("limits: parse_json refuses text longer than max_bytes before parsing it") {
  JsonLimits limits;
  limits.max_bytes = 10;
  CHECK(tasker::parse_json("[1,2,3,4]", limits, "the result") == json::array({1, 2, 3, 4}));
  // Invalid JSON of the right length still fails on its syntax...
  CHECK_THROWS_AS((void)tasker::parse_json("[1,2,", limits, "the result"), json::parse_error);
  // ...but text beyond the limit is refused unread, whatever it holds.
  LimitError e = limit_error_of([&] { (void)tasker::parse_json("[1,2,3,4,5]", limits, "the result"); });
  CHECK(e.limit() == "limits.json_max_bytes");
  CHECK(e.actual() == 11);
  CHECK(contains(e.what(), "the result is 11 bytes, more than limits.json_max_bytes allows (10)"));
  CHECK(contains(e.what(), "TASKER_LIMITS_JSON_MAX_BYTES"));
}

TEST_CASE("limits: text that is not JSON, including invalid UTF-8 in a string, is a parse error") {
  for (const char* text : {"{\"a\": ", "[1,]", "{\"x\": \"\xff\"}", "\"\xc0\x80\"", "nul"}) {
    CAPTURE(text);
    CHECK_THROWS_AS((void)tasker::parse_json(text, JsonLimits{}, "stdout"), json::parse_error);
  }
  try {
    (void)tasker::parse_json("{\"x\": \"\xff\"}", JsonLimits{}, "stdout");
  } catch (const json::parse_error& e) {
    std::string text = tasker::json_error_text(e);
    CHECK(text.rfind("parse error at line 1, column 8", 0) == 0);  // nlohmann's "[json.exception...] " is gone
    CHECK(contains(text, "ill-formed UTF-8 byte"));
    CHECK(tasker::invalid_utf8_offset(text) == std::string::npos);  // it quotes the input: repaired
  }
}

TEST_CASE("limits: a number beyond a double is a json::exception like any text that is not JSON (found by fuzzing)") {
  // fuzz_json_identity: nlohmann reports it as out_of_range.406, not parse_error,
  // and callers that caught only parse_error let it escape.
  for (const char* text : {"1e400", "{\"total\": -2222222222222222222222e3084}"}) {
    CAPTURE(text);
    try {
      (void)tasker::parse_json(text, JsonLimits{}, "the input");
      FAIL("accepted");
    } catch (const json::exception& e) {
      CHECK(contains(tasker::json_error_text(e), "number overflow parsing"));
    }
  }
}

TEST_CASE("limits: measure_json computes the depth and exactly the length dump() writes") {
  const json values[] = {
      nullptr,
      true,
      false,
      0,
      -1,
      std::numeric_limits<std::int64_t>::min(),
      std::numeric_limits<std::uint64_t>::max(),
      1.5,
      1e300,
      -0.0,
      3.0,
      "",
      "plain",
      "quote \" backslash \\ slash / tab \t newline \n cr \r bell \x07 nul-free \x1f del \x7f",
      "é ü 中文 😀",
      json::array(),
      json::object(),
      json::array({1, "two", json::array({3.25, json::object()}), nullptr}),
      json::parse(R"({"b": {"c\"d": [1, 2, {"e": "f\n"}]}, "a": [], "": {"": ""}})"),
      json::binary({1, 2, 3}),
  };
  for (const json& v : values) {
    CAPTURE(v.dump());
    auto m = tasker::measure_json(v);
    CHECK(m.bytes == v.dump().size());
    CHECK_FALSE(m.invalid_utf8);
  }
  CHECK(tasker::measure_json(json(5)).depth == 0);
  CHECK(tasker::measure_json(json::array()).depth == 1);
  CHECK(tasker::measure_json(json::parse(R"({"a": [1, [2, {"b": 3}]], "c": {}})")).depth == 4);
}

TEST_CASE("limits: check_json refuses a host's value nested 100,000 levels, without recursing into it") {
  // Built the way a host would get it: parsed without limits (nlohmann parses
  // and destroys without recursion; serialising or copying it would not survive).
  const json deep = json::parse(nested_arrays(100'000));
  LimitError e = limit_error_of([&] { tasker::check_json(deep, JsonLimits{}, "the task context"); });
  CHECK(e.limit() == "limits.json_max_depth");
  CHECK(e.actual() == 100'000);
  CHECK(tasker::measure_json(deep).bytes == 200'001);
}

TEST_CASE("limits: check_json measures the serialised size and names the limit") {
  JsonLimits limits;
  limits.max_bytes = 20;
  const json small = {{"a", "0123456789"}};  // {"a":"0123456789"} is 18 bytes
  CHECK_NOTHROW(tasker::check_json(small, limits, "the result"));
  const json large = {{"a", "0123456789"}, {"b", 1}};  // 24 bytes
  LimitError e = limit_error_of([&] { tasker::check_json(large, limits, "the result"); });
  CHECK(e.limit() == "limits.json_max_bytes");
  CHECK(e.actual() == 24);
  CHECK(contains(e.what(), "the result is 24 bytes, more than limits.json_max_bytes allows (20)"));
}

TEST_CASE("limits: check_json names where a string or key is not UTF-8 (a JSON pointer)") {
  auto message_of = [](const json& value) {
    try {
      tasker::check_json(value, JsonLimits{}, "the task context");
    } catch (const LimitError&) {
      FAIL("a LimitError for invalid UTF-8");
    } catch (const tasker::InvalidRequestError& e) {
      std::string text = e.what();
      CHECK(tasker::invalid_utf8_offset(text) == std::string::npos);
      return text;
    }
    FAIL("no error for " << value.dump(-1, ' ', false, json::error_handler_t::replace));
    return std::string();
  };
  json value = {{"order", {{"items", json::array({"ok", "bad \xff"})}}}};
  CHECK(message_of(value) ==
        "the task context holds text that is not valid UTF-8 (at /order/items/1); send text as UTF-8, and binary "
        "data encoded (e.g. base64)");
  CHECK(contains(message_of(json{{"a/b~c", {{"k\xfe", 1}}}}), "(at /a~1b~0c/k\xef\xbf\xbd)"));
  CHECK(contains(message_of(json("\xc3")), "(the value itself)"));
}

TEST_CASE("limits: UTF-8 validation rejects what JSON serialisers reject, and repair keeps what is valid") {
  CHECK(tasker::invalid_utf8_offset("") == std::string::npos);
  CHECK(tasker::invalid_utf8_offset("ascii é 中 😀 \xf4\x8f\xbf\xbf") == std::string::npos);  // U+10FFFF is valid
  CHECK(tasker::invalid_utf8_offset("ab\xff") == 2);
  CHECK(tasker::invalid_utf8_offset("\xc0\x80") == 0);          // overlong NUL
  CHECK(tasker::invalid_utf8_offset("\xe0\x80\xaf") == 0);      // overlong '/'
  CHECK(tasker::invalid_utf8_offset("x\xed\xa0\x80") == 1);     // a surrogate (U+D800)
  CHECK(tasker::invalid_utf8_offset("\xf4\x90\x80\x80") == 0);  // above U+10FFFF
  CHECK(tasker::invalid_utf8_offset("\xe4\xb8") == 0);          // cut short
  for (const char* bad : {"ab\xff", "\xc0\x80", "x\xed\xa0\x80", "\xe4\xb8", "\xf0\x9f\x98"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS((void)json(bad).dump(), json::type_error);  // nlohmann agrees that it is invalid
    std::string repaired = tasker::valid_utf8(bad);
    CHECK(tasker::invalid_utf8_offset(repaired) == std::string::npos);
    CHECK_NOTHROW((void)json(repaired).dump());
  }
  CHECK(tasker::valid_utf8("ok é") == "ok é");
  CHECK(tasker::valid_utf8("a\xff"
                           "b") ==
        "a\xef\xbf\xbd"
        "b");
}

TEST_CASE("limits: a context within limits hashes as before") {
  const json context = tasker::parse_json(R"({"b": [1, 2], "a": {"x": "é"}})", JsonLimits{}, "the context");
  CHECK(tasker::canonical_json(context) == R"({"a":{"x":"é"},"b":[1,2]})");
  CHECK(tasker::measure_json(context).bytes == tasker::canonical_json(context).size());
}

TEST_CASE("limits: configuration reads the limits section and its environment variables") {
  tasker::Config defaults = tasker::Config::from_yaml("", "file.yaml", "development");
  CHECK(defaults.limits.json.max_depth == 128);
  CHECK(defaults.limits.json.max_bytes == 8u * 1024 * 1024);
  CHECK(defaults.limits.templates.max_bytes == 16u * 1024 * 1024);
  CHECK(defaults.limits.templates.max_depth == 64);
  CHECK(defaults.limits.templates.max_nodes == 1'000'000);

  tasker::Config c = tasker::Config::from_yaml(R"(limits:
  json_max_depth: 32
  json_max_bytes: 1000
  template_max_bytes: 2000
  template_max_depth: 16
  template_max_nodes: 500
environments:
  production:
    limits:
      json_max_depth: 64
)",
                                               "file.yaml", "production");
  CHECK(c.limits.json.max_depth == 64);
  CHECK(c.limits.json.max_bytes == 1000);
  CHECK(c.limits.templates.max_bytes == 2000);
  CHECK(c.limits.templates.max_depth == 16);
  CHECK(c.limits.templates.max_nodes == 500);

  try {
    (void)tasker::Config::from_yaml("limits:\n  template_max_depth: 1000\n", "file.yaml", "development");
    FAIL("no error");
  } catch (const tasker::ConfigurationError& e) {
    CHECK(e.key() == "limits.template_max_depth");
    CHECK(contains(e.what(), "1000 is outside 1..256"));
    CHECK(contains(e.what(), "file.yaml:2:23"));
  }
  CHECK_THROWS_AS((void)tasker::Config::from_yaml("limits:\n  json_max_dept: 3\n", "file.yaml", "development"),
                  tasker::ConfigurationError);

  CHECK(tasker::limit_environment_variable("limits.template_max_nodes") == "TASKER_LIMITS_TEMPLATE_MAX_NODES");
  ::setenv("TASKER_LIMITS_JSON_MAX_DEPTH", "7", 1);
  ::setenv("TASKER_LIMITS_TEMPLATE_MAX_NODES", "123", 1);
  tasker::Config from_env = tasker::Config::load();
  CHECK(from_env.limits.json.max_depth == 7);
  CHECK(from_env.limits.templates.max_nodes == 123);
  ::setenv("TASKER_LIMITS_JSON_MAX_BYTES", "0", 1);
  try {
    (void)tasker::Config::load();
    FAIL("no error");
  } catch (const tasker::ConfigurationError& e) {
    CHECK(e.key() == "limits.json_max_bytes");
    CHECK(e.source() == "TASKER_LIMITS_JSON_MAX_BYTES");
  }
  for (const char* name :
       {"TASKER_LIMITS_JSON_MAX_DEPTH", "TASKER_LIMITS_TEMPLATE_MAX_NODES", "TASKER_LIMITS_JSON_MAX_BYTES"})
    ::unsetenv(name);
}
