#include <doctest/doctest.h>

#include <string>

#include "tasker/errors.hpp"

using namespace tasker;

namespace {
bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("errors: one hierarchy, catchable as tasker::Error") {
  auto thrown = [](auto e) {
    try {
      throw e;
    } catch (const Error&) {
      return true;
    }
  };
  CHECK(thrown(PermanentError("x")));
  CHECK(thrown(RetryableError("x")));
  CHECK(thrown(NotFoundError("task", "1")));
  CHECK(thrown(DuplicateTaskError("u", "h")));
  CHECK(thrown(ConfigurationError("k", "s", "p")));
  CHECK(thrown(HandlerNotFoundError("c")));
  CHECK(thrown(InvalidRequestError("x")));
  CHECK(thrown(StorageError("x")));
  CHECK(thrown(TransientStorageError("x")));
  CHECK(thrown(StorageInDoubtError("x")));
  CHECK(thrown(TemplateError({})));
}

TEST_CASE("errors: step errors carry context, retry_after and an optional error type") {
  PermanentError p("card declined", {{"code", "do_not_honor"}});
  CHECK(p.context()["code"] == "do_not_honor");
  CHECK(p.error_type().empty());
  RetryableError r("rate limited", std::chrono::milliseconds{1500}, {{"limit", 10}});
  CHECK(r.retry_after() == std::chrono::milliseconds{1500});
  CHECK(r.context()["limit"] == 10);
  r.set_error_type("rate_limited");
  CHECK(r.error_type() == "rate_limited");
  CHECK_FALSE(RetryableError("x").retry_after().has_value());
}

TEST_CASE("errors: messages say what, where and how to act") {
  DuplicateTaskError dup("3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b", "abc123");
  CHECK(dup.existing_task_uuid() == "3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b");
  CHECK(contains(dup.what(), "3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b"));
  CHECK(contains(dup.what(), "idempotency_key"));
  ConfigurationError config("worker.concurrency", "tasker.yaml:3:5", "0 is outside 1..1024");
  CHECK(config.key() == "worker.concurrency");
  CHECK(config.source() == "tasker.yaml:3:5");
  CHECK(contains(config.what(), "tasker.yaml:3:5"));
  NotFoundError missing("task", "t-1", "list tasks with `tasker list`");
  CHECK(missing.kind() == "task");
  CHECK(contains(missing.what(), "tasker list"));
  // Whether an operation may be repeated is told by the type alone.
  auto repeatable = [](const StorageError& e) { return dynamic_cast<const TransientStorageError*>(&e) != nullptr; };
  CHECK(repeatable(TransientStorageError("busy")));
  CHECK_FALSE(repeatable(StorageInDoubtError("commit lost")));
  CHECK_FALSE(repeatable(StorageError("schema too new")));
  Diagnostic d;
  d.location = {"t.yaml", 3, 7};
  d.key = "steps";
  d.message = "bad";
  d.hint = "fix it";
  TemplateError invalid({d});
  CHECK(invalid.diagnostics().size() == 1);
  CHECK(contains(invalid.what(), "t.yaml:3:7: error: bad (hint: fix it)"));
}
