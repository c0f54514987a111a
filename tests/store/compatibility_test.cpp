// A process built before migration 6 keeps working after another process
// migrated the database: it calls the server functions it was built for
// (tasker_submit and tasker_exchange of migrations 4 and 5), with their
// argument layouts, and the new build reads and continues what it wrote. The
// calls below are release 0.1.0's (lib/storage/sql/one_call.cpp at 6c11cef),
// verbatim: the previous release's side of the contract, frozen here.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <pqxx/pqxx>

#include "store/support.hpp"
#include "tasker/client.hpp"
#include "tasker/store.hpp"
#include "tasker/template_set.hpp"

namespace {

using tasker::json;

// Release 0.1.0's tasker_submit call (its 20 task columns, then steps, edges, channel, notifications).
constexpr const char* kSubmit01 =
    "SELECT uuid, state FROM tasker_submit($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10::jsonb, $11::integer, $12, "
    "$13, $14, $15::jsonb, $16::integer, $17::integer, $18::bigint, $19::bigint, $20::jsonb, $21::jsonb, $22::jsonb, "
    "$23, $24::jsonb)";
// Release 0.1.0's tasker_exchange call.
constexpr const char* kExchange01 =
    "SELECT tasker_exchange($1::jsonb, $2::bigint, $3, $4::integer, $5::bigint, "
    "(SELECT array_agg(e) FROM jsonb_array_elements_text($6::jsonb) AS t(e)), "
    "(SELECT array_agg(e) FROM jsonb_array_elements_text($7::jsonb) AS t(e)), "
    "(SELECT array_agg(e) FROM jsonb_array_elements_text($8::jsonb) AS t(e)), $9)";

/// A connection on `schema`, as release 0.1.0 opened it.
struct OldProcess {
  pqxx::connection db;
  explicit OldProcess(const std::string& server, const std::string& schema) : db(server) {
    pqxx::nontransaction(db).exec0("SET search_path TO " + schema);
  }
  json exchange(const json& outcomes, long long now, int limit, const std::vector<std::string>& callables) {
    pqxx::nontransaction n(db);
    auto r = n.exec_params1(kExchange01, outcomes.dump(), now, "old-worker", limit, now + 30'000,
                            json(callables).dump(), nullptr, nullptr, "tasker_work");
    return json::parse(r[0].c_str());
  }
};

}  // namespace

TEST_CASE("compatibility: release 0.1.0's server function calls work on the migrated schema beside the new build") {
  const std::string server = tasker::test::server_url();
  const std::string schema = "compat_01";
  pqxx::connection admin(server);
  pqxx::nontransaction(admin).exec0("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
  auto store = tasker::open_store(tasker::test::with_option(server, "schema=" + schema));  // migrates to the newest
  auto templates = std::make_shared<tasker::TemplateSet>(
      tasker::TemplateSet::load({TASKER_SOURCE_DIR "/templates/math/linear.yaml"}));
  tasker::Client client(store, templates);
  OldProcess old(server, schema);
  const long long now = tasker::to_epoch_ms(tasker::SystemClock::instance().now());
  const std::vector<std::string> callables{"math.square_input", "math.square"};

  // The old submit: a one-step task, its row layout of 0.1.0 (the step row as 18 positional fields).
  json steps = json::array(
      {json::array({"7b0f4a52-0000-4000-8000-000000000001", 0, "only", "math.square_input", "{}", "[]", "enqueued", 0,
                    3, 1, "exponential", 1000, 30000, 30, now, "standard", nullptr, nullptr})});
  {
    pqxx::nontransaction n(old.db);
    auto r = n.exec_params1(kSubmit01, "7b0f4a52-0000-4000-8000-0000000000aa", "linear_workflow", "old_task", "1.0.0",
                            "pending", R"({"even_number": 2})", "", "", "", "[]", 0, "", nullptr, nullptr, "[]", 1, 1,
                            now, nullptr, nullptr, steps.dump(), "[]", "tasker_work", R"([""])");
    CHECK(std::string(r[0].c_str()) == "7b0f4a52-0000-4000-8000-0000000000aa");
  }
  // The new build sees it; the old worker claims and completes it with 0.1.0's rows.
  CHECK(client.get_task("7b0f4a52-0000-4000-8000-0000000000aa").state == tasker::TaskState::pending);
  json answer = old.exchange(json::array(), now, 1, callables);
  REQUIRE(answer.at("claimed").size() == 1);
  const json claimed = answer.at("claimed")[0];  // 0.1.0's 23 positional columns
  const long long step_id = tasker::test::id_of(claimed[0]);
  const long long token = tasker::test::id_of(claimed[7]);
  json outcome =
      json::array({json::array({step_id, token, "complete", 1, R"({"n": 4})", nullptr, 0, nullptr, now, ""})});
  answer = old.exchange(outcome, now + 1, 0, callables);
  CHECK(answer.at("discarded").empty());
  auto done = client.get_task("7b0f4a52-0000-4000-8000-0000000000aa");
  CHECK(done.state == tasker::TaskState::complete);
  CHECK(done.counts.completed == 1);

  // A task the new build submits is worked by the old process, then by the new one, step by step.
  auto task = client.submit(
      {.namespace_name = "linear_workflow", .name = "mathematical_sequence", .context = {{"even_number", 6}}});
  const long long later =
      tasker::to_epoch_ms(tasker::SystemClock::instance().now()) + 1000;  // after its steps were enqueued
  for (int i = 0; i < 4; ++i) {
    if (i % 2 == 0) {
      answer = old.exchange(json::array(), later + i, 1, callables);
      REQUIRE(answer.at("claimed").size() == 1);
      const json c = answer.at("claimed")[0];
      const long long id = tasker::test::id_of(c[0]);
      const long long t = tasker::test::id_of(c[7]);
      answer =
          old.exchange(json::array({json::array({id, t, "complete", 1, "36", nullptr, 0, nullptr, later + i, ""})}),
                       later + i, 0, callables);
      CHECK(answer.at("discarded").empty());
    } else {
      tasker::ClaimRequest r;
      r.worker_id = "new-worker";
      r.filter.callables = callables;
      auto got = store->exchange({}, &r, tasker::from_epoch_ms(later + i));
      REQUIRE(got.claimed.size() == 1);
      tasker::StepOutcome o;
      o.step_id = got.claimed[0].step_id;
      o.claim_token = got.claimed[0].claim_token;
      o.result = 36;
      CHECK(store->exchange({o}, nullptr, tasker::from_epoch_ms(later + i)).discarded.empty());
    }
  }
  CHECK(client.get_task(task.uuid).state == tasker::TaskState::complete);
  // What either build wrote is consistent, and the audit trail reads both.
  for (const auto& v : store->check_consistency()) FAIL_CHECK(v);
  const auto trail = client.transitions(task.uuid);
  CHECK(trail.size() >= 4 * 3 + 3);
}
