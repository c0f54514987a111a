// Templates keyed by namespace/name/version; version ordering; references.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "helpers.hpp"
#include "tasker/errors.hpp"
#include "tasker/template_set.hpp"

using tasker::compare_versions;
using tasker::TemplateRef;
using tasker::TemplateSet;
using tasker::test::contains;
using tasker::test::minimal_template;

namespace {

tasker::TaskTemplate make(const std::string& ns, const std::string& name, const std::string& version,
                          const std::string& file = "t.yaml") {
  auto result = tasker::load_templates_from_string(minimal_template(name, ns, version), file, tasker::test::env());
  INFO(tasker::test::dump(result));
  REQUIRE(result.ok());
  REQUIRE(result.templates.size() == 1u);
  return result.templates.front();
}

}  // namespace

TEST_CASE("template_set: compare_versions orders dotted versions numerically") {
  CHECK(compare_versions("1.10.0", "1.9.2") > 0);
  CHECK(compare_versions("1.9.2", "1.10.0") < 0);
  CHECK(compare_versions("2", "1.9") > 0);
  CHECK(compare_versions("1.9", "2") < 0);
  CHECK(compare_versions("1.0.0", "1.0.0") == 0);
  CHECK(compare_versions("10.0.0", "9.99.99") > 0);
  CHECK(compare_versions("1.2.3", "1.2.4") < 0);
  CHECK(compare_versions("0.0.1", "0.0.0") > 0);
  CHECK(compare_versions("", "") == 0);
  // Antisymmetric over a few pairs.
  const char* versions[] = {"0.1", "1", "1.0.1", "1.2", "1.10", "2.0.0", "10"};
  for (const char* a : versions)
    for (const char* b : versions) {
      CAPTURE(a);
      CAPTURE(b);
      CHECK(compare_versions(a, b) == -compare_versions(b, a));
    }
}

TEST_CASE("template_set: find resolves the latest version, or the one asked for") {
  TemplateSet set;
  CHECK(set.empty());
  CHECK_FALSE(set.add(make("shop", "order", "1.9.2")).has_value());
  CHECK_FALSE(set.add(make("shop", "order", "1.10.0")).has_value());
  CHECK_FALSE(set.add(make("shop", "order", "1.2.0")).has_value());
  CHECK_FALSE(set.add(make("shop", "refund", "0.1.0")).has_value());
  CHECK_FALSE(set.add(make("other", "order", "3.0.0")).has_value());
  CHECK(set.size() == 5u);
  CHECK_FALSE(set.empty());

  const auto* latest = set.find("shop", "order");
  REQUIRE(latest != nullptr);
  CHECK(latest->version == "1.10.0");
  CHECK(&set.get("shop", "order") == latest);

  const auto* explicit_version = set.find("shop", "order", "1.9.2");
  REQUIRE(explicit_version != nullptr);
  CHECK(explicit_version->version == "1.9.2");
  CHECK(set.get(TemplateRef::parse("shop/order@1.2.0")).version == "1.2.0");
  CHECK(set.get(TemplateRef::parse("shop/order")).version == "1.10.0");
  CHECK(set.find("other", "order")->version == "3.0.0");

  CHECK(set.find("shop", "order", "9.9.9") == nullptr);
  CHECK(set.find("shop", "nothing") == nullptr);
  CHECK(set.find("nowhere", "order") == nullptr);

  SUBCASE("all() is ordered by namespace, name, then version") {
    std::vector<std::string> names;
    for (const auto* t : set.all()) names.push_back(t->qualified_name());
    CHECK(names == std::vector<std::string>{"other/order@3.0.0", "shop/order@1.2.0", "shop/order@1.9.2",
                                            "shop/order@1.10.0", "shop/refund@0.1.0"});
  }
}

TEST_CASE("template_set: a duplicate is an error naming both files") {
  SUBCASE("add keeps the first") {
    TemplateSet set;
    CHECK_FALSE(set.add(make("shop", "order", "1.0.0", "first.yaml")).has_value());
    auto duplicate = set.add(make("shop", "order", "1.0.0", "second.yaml"));
    REQUIRE(duplicate.has_value());
    CHECK(duplicate->severity == tasker::Severity::error);
    CHECK(duplicate->location.file == "second.yaml");
    CHECK(contains(duplicate->hint, "first.yaml"));
    CHECK(contains(duplicate->message, "shop/order@1.0.0"));
    CHECK(set.size() == 1u);
    CHECK(set.find("shop", "order")->location.file == "first.yaml");
  }
  SUBCASE("across two files on disk") {
    tasker::test::TempDir dir;
    auto a = dir.write("a.yaml", minimal_template("order", "shop", "1.0.0"));
    auto b = dir.write("b.yaml", minimal_template("order", "shop", "1.0.0"));
    auto result = tasker::load_templates(dir.path(), tasker::test::env());
    REQUIRE(result.ok());
    TemplateSet set;
    set.add_all(result);
    CHECK(result.templates.empty());
    CHECK_FALSE(result.ok());
    auto errors = tasker::test::errors_of(result);
    REQUIRE(errors.size() == 1u);
    const std::string text = errors[0].to_string();
    CHECK(contains(text, a.string()));
    CHECK(contains(text, b.string()));
    CHECK(set.size() == 1u);

    try {
      (void)TemplateSet::load({dir.path()}, tasker::test::env());
      FAIL("TemplateSet::load accepted a duplicate");
    } catch (const tasker::TemplateError& e) {
      REQUIRE(e.diagnostics().size() == 1u);
      CHECK(contains(e.what(), a.string()));
      CHECK(contains(e.what(), b.string()));
    }
  }
}

TEST_CASE("template_set: get throws NotFoundError with a hint") {
  TemplateSet set;
  set.add(make("shop", "order_processing", "1.0.0"));
  set.add(make("shop", "order_processing", "1.2.0"));

  SUBCASE("a misspelt name suggests the loaded one") {
    try {
      (void)set.get("shop", "order_procesing");
      FAIL("get did not throw");
    } catch (const tasker::NotFoundError& e) {
      CHECK(e.kind() == "template");
      CHECK(e.id() == "shop/order_procesing");
      CHECK(contains(e.what(), "did you mean shop/order_processing?"));
    }
  }
  SUBCASE("an unknown version names the latest") {
    try {
      (void)set.get("shop", "order_processing", "9.0.0");
      FAIL("get did not throw");
    } catch (const tasker::NotFoundError& e) {
      CHECK(e.id() == "shop/order_processing@9.0.0");
      CHECK(contains(e.what(), "1.2.0"));
    }
  }
  SUBCASE("nothing close says how many are loaded") {
    try {
      (void)set.get("zzz", "qqq");
      FAIL("get did not throw");
    } catch (const tasker::NotFoundError& e) {
      CHECK(contains(e.what(), "2 templates"));
    }
  }
  CHECK_THROWS_AS((void)TemplateSet{}.get("a", "b"), tasker::NotFoundError);
}

TEST_CASE("template_set: TemplateRef::parse") {
  SUBCASE("valid forms") {
    auto plain = TemplateRef::parse("ecommerce/order_processing");
    CHECK(plain.namespace_name == "ecommerce");
    CHECK(plain.name == "order_processing");
    CHECK(plain.version.empty());
    CHECK(plain.to_string() == "ecommerce/order_processing");

    auto versioned = TemplateRef::parse("ecommerce/order_processing@1.2.3");
    CHECK(versioned.namespace_name == "ecommerce");
    CHECK(versioned.name == "order_processing");
    CHECK(versioned.version == "1.2.3");
    CHECK(versioned.to_string() == "ecommerce/order_processing@1.2.3");
  }
  SUBCASE("invalid forms throw InvalidRequestError showing the expected form") {
    for (const char* text : {"", "order_processing", "/order", "ecommerce/", "ecommerce/order@", "a/b/c", "@1.0.0",
                             "ecommerce/@1.0.0", "ecommerce@1.0.0/order"}) {
      CAPTURE(text);
      try {
        (void)TemplateRef::parse(text);
        FAIL("parse accepted it");
      } catch (const tasker::InvalidRequestError& e) {
        CHECK(contains(e.what(), "NAMESPACE/NAME"));
      }
    }
  }
}
