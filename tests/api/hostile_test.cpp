// Slow, careless and hostile clients (issue 28): what `tasker serve` holds by
// construction. Counted, never timed: every probe must be answered while the
// others are connected; the limits given generously are only against hangs.
#include <fmt/format.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

#include "../e2e/child_process.hpp"
#include "server/work_pool.hpp"
#include "support.hpp"
#include "tasker/task.hpp"

using namespace api_test;

namespace {

constexpr const char* kHealth = "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// The source address of the `i`-th attacker: spread over a few loopback
/// addresses, each a client of its own to the per-client limit.
std::string attacker(int i) { return fmt::format("127.0.0.{}", 2 + i % 4); }

/// `count` answers to GET /health from 127.0.0.1, each on a new connection; how many were 200.
int health_probes(ServerFixture& s, int count) {
  int answered = 0;
  for (int i = 0; i < count; ++i) {
    RawSocket probe(s.port());
    REQUIRE(probe.send(kHealth));
    auto answers = parse_answers(probe.read([](const std::string& t) { return has_answers(t, 1); }));
    if (!answers.empty() && answers[0].status == 200) ++answered;
  }
  return answered;
}

std::string post_head(const std::string& extra) {
  return "POST /v1/tasks HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" + extra + "\r\n";
}

RawAnswer one_answer(RawSocket& socket) {
  auto answers = parse_answers(socket.read([](const std::string& t) { return has_answers(t, 1); }));
  REQUIRE_FALSE(answers.empty());
  return answers[0];
}

/// POSTs a task as a chunked body of 16 KiB chunks, up to 8 MiB, until the
/// server answers; that answer's status, and how many bytes had been sent.
std::pair<int, std::size_t> upload_until_answered(RawSocket& c) {
  REQUIRE(c.send(post_head("Transfer-Encoding: chunked\r\n")));
  const std::string chunk = fmt::format("4000\r\n{}\r\n", std::string(0x4000, ' '));
  std::size_t sent = 0;
  std::string answer;
  while (sent < std::size_t{8} * 1024 * 1024 && answer.empty()) {
    if (!c.send(chunk)) break;
    sent += chunk.size();
    answer = c.read([](const std::string& t) { return !t.empty(); }, std::chrono::milliseconds{1});
  }
  answer += c.read([](const std::string& t) { return has_answers(t, 1); });
  auto answers = parse_answers(answer);
  REQUIRE(answers.size() == 1);
  return {answers[0].status, sent};
}

}  // namespace

TEST_CASE("hostile: 150 trickling headers, 50 trickling bodies and 300 idle sockets leave every probe answered") {
  tasker::ServerSettings settings = test_settings();
  settings.header_timeout_ms = 600'000;  // they stay connected through the probes; the deadline has its own test
  settings.body_timeout_ms = 600'000;
  ServerFixture s(settings);
  std::vector<std::unique_ptr<RawSocket>> slow;
  for (int i = 0; i < 150; ++i) {
    slow.push_back(std::make_unique<RawSocket>(s.port(), attacker(i).c_str()));
    REQUIRE(slow.back()->send("GET /v1/tasks HTTP/1.1\r\nHost: localhost\r\nX-Slow: "));
  }
  for (int i = 0; i < 50; ++i) {
    slow.push_back(std::make_unique<RawSocket>(s.port(), attacker(i).c_str()));
    REQUIRE(slow.back()->send(post_head("Content-Length: 100000\r\n") + "{\"namespace\": "));
  }
  std::vector<std::unique_ptr<RawSocket>> idle;
  for (int i = 0; i < 300; ++i) idle.push_back(std::make_unique<RawSocket>(s.port(), attacker(i + 1).c_str()));
  // Between probes, every slow client sends one more byte.
  int answered = 0, listed = 0;
  for (int round = 0; round < 10; ++round) {
    for (auto& c : slow) CHECK(c->send(" "));
    answered += health_probes(s, 1);
    if (s.call("GET", "/v1/templates").status == 200) ++listed;  // a route on the handler threads
  }
  CHECK(answered == 10);
  CHECK(listed == 10);
  int still_connected = 0;
  for (auto& c : slow) still_connected += c->closed_now() ? 0 : 1;
  CHECK(still_connected == 200);
  s.nothing_written();
}

TEST_CASE("hostile: each wait has a deadline for the whole operation, however slowly the bytes come") {
  tasker::ServerSettings settings = test_settings();
  settings.header_timeout_ms = 300;
  settings.body_timeout_ms = 300;
  settings.idle_timeout_ms = 300;
  ServerFixture s(settings);
  RawSocket header(s.port()), body(s.port()), idle(s.port()), kept(s.port());
  REQUIRE(body.send(post_head("Content-Length: 1000\r\n") + "{"));
  REQUIRE(kept.send(kHealth));
  CHECK(one_answer(kept).status == 200);
  // A byte every 50 ms: each read is quick, the header never completes.
  bool cut = false;
  for (int i = 0; i < 600 && !cut; ++i) {
    cut = !header.send("x") || header.closed_now();
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  CHECK(cut);
  CHECK(body.closed_by_server());
  CHECK(idle.closed_by_server());
  CHECK(kept.closed_by_server());  // kept alive, then idle
}

TEST_CASE("hostile: connections beyond the per-client limit are closed at once, and counted") {
  tasker::ServerSettings settings = test_settings();
  settings.max_connections_per_client = 20;
  settings.header_timeout_ms = 600'000;
  ServerFixture s(settings);
  std::vector<std::unique_ptr<RawSocket>> many;
  for (int i = 0; i < 30; ++i) many.push_back(std::make_unique<RawSocket>(s.port(), "127.0.0.7"));
  int closed = 0;
  for (int i = 20; i < 30; ++i) closed += many[static_cast<std::size_t>(i)]->closed_by_server() ? 1 : 0;
  CHECK(closed == 10);
  for (int i = 0; i < 20; ++i) CHECK_FALSE(many[static_cast<std::size_t>(i)]->closed_now());
  CHECK(health_probes(s, 3) == 3);  // another address
  Reply metrics = s.call("GET", "/metrics");
  CHECK(metric(metrics.body.get<std::string>(), "tasker_http_connections_refused_total{reason=\"per_client\"}") == 10);
}

TEST_CASE("hostile: bodies over server.max_body_bytes are refused while read, whatever their framing") {
  ServerFixture s;  // max_body_bytes: 64 KiB
  SUBCASE("chunked: 413 once the total passes the limit, long before 2 MiB were sent") {
    RawSocket c(s.port());
    const auto [status, sent] = upload_until_answered(c);
    CHECK(status == 413);
    CHECK(sent < std::size_t{2} * 1024 * 1024);
    CHECK(c.closed_by_server());
  }
  SUBCASE("Content-Length over the limit: 413 from the header, no body read") {
    RawSocket c(s.port());
    REQUIRE(c.send(post_head("Content-Length: 10737418240\r\n")));
    CHECK(one_answer(c).status == 413);
    CHECK(c.closed_by_server());
  }
  SUBCASE("Expect: 100-continue: 413 instead of 100 when too large; 100, then the answer, when not") {
    RawSocket big(s.port());
    REQUIRE(big.send(post_head("Content-Length: 10000000\r\nExpect: 100-continue\r\n")));
    CHECK(one_answer(big).status == 413);
    const std::string task = linear_request().dump();
    RawSocket fits(s.port());
    REQUIRE(fits.send(post_head(fmt::format("Content-Length: {}\r\nExpect: 100-continue\r\n", task.size()))));
    CHECK(one_answer(fits).status == 100);
    REQUIRE(fits.send(task));
    auto answers = parse_answers(fits.read([](const std::string& t) { return has_answers(t, 1); }));
    REQUIRE(answers.size() == 1);
    CHECK(answers[0].status == 201);
    RawSocket odd(s.port());
    REQUIRE(odd.send(post_head("Content-Length: 2\r\nExpect: something-else\r\n")));
    CHECK(one_answer(odd).status == 417);
  }
}

TEST_CASE("hostile: on a keyed server a request without a key is refused before its body is read") {
  tasker::ServerSettings settings = test_settings();
  settings.api_keys = {{"ops", sha256_hex("ops-token"), {"*"}}};
  settings.max_body_bytes = 16LL * 1024 * 1024;
  ServerFixture s(settings);
  RawSocket c(s.port());
  const auto [status, sent] = upload_until_answered(c);
  CHECK(status == 401);
  CHECK(sent < std::size_t{2} * 1024 * 1024);
  // Failed authentications are counted; the scheme is case-insensitive.
  Reply lower = s.call("GET", "/v1/tasks", "", "");
  CHECK(lower.status == 401);
  RawSocket bearer(s.port());
  REQUIRE(bearer.send("GET /v1/templates HTTP/1.1\r\nHost: localhost\r\nAuthorization: bearer ops-token\r\n\r\n"));
  CHECK(one_answer(bearer).status == 200);
  const std::string scrape = s.call("GET", "/metrics").body.get<std::string>();
  CHECK(metric(scrape, "tasker_http_auth_failures_total{reason=\"missing\"}") == 2);
}

TEST_CASE("hostile: header limits (431), and framing tasker will not guess at (400, closed)") {
  ServerFixture s;
  SUBCASE("20,000 headers") {
    RawSocket c(s.port());
    std::string head = "GET /health HTTP/1.1\r\nHost: localhost\r\n";
    for (int i = 0; i < 20'000; ++i) head += fmt::format("X-{}: y\r\n", i);
    c.send(head + "\r\n");  // the server may close before all is sent
    RawAnswer a = one_answer(c);
    CHECK(a.status == 431);
    CHECK(json::parse(a.body)["error"]["code"] == "HEADERS_TOO_LARGE");
  }
  SUBCASE("more header fields than server.max_header_count, each small") {
    RawSocket c(s.port());
    std::string head = "GET /health HTTP/1.1\r\nHost: localhost\r\n";
    for (int i = 0; i < 120; ++i) head += "X: y\r\n";
    REQUIRE(c.send(head + "\r\n"));
    CHECK(one_answer(c).status == 431);
  }
  for (const char* framing :
       {"Content-Length: abc\r\n", "Content-Length: 0x10\r\n", "Content-Length: 1, 2\r\n", "Content-Length: +5\r\n",
        "Content-Length: 2\r\nContent-Length: 2\r\n", "Content-Length: 2, 2\r\n",
        "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", "Transfer-Encoding: gzip, chunked\r\n"}) {
    CAPTURE(framing);
    RawSocket c(s.port());
    REQUIRE(c.send(post_head(framing) + "{}"));
    RawAnswer a = one_answer(c);
    CHECK(a.status == 400);
    CHECK(a.headers["x-content-type-options"] == "nosniff");
    CHECK_FALSE(a.headers["x-request-id"].empty());
    CHECK(c.closed_by_server());
  }
  s.nothing_written();
}

TEST_CASE("hostile: pipelined requests are all answered, in order") {
  ServerFixture s;
  RawSocket c(s.port());
  REQUIRE(c.send(std::string(kHealth) + "GET /v1/templates HTTP/1.1\r\nHost: localhost\r\n\r\n" +
                 "GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n" + kHealth));
  auto answers = parse_answers(c.read([](const std::string& t) { return has_answers(t, 4); }));
  REQUIRE(answers.size() == 4);
  CHECK(json::parse(answers[0].body)["status"] == "healthy");
  CHECK(json::parse(answers[1].body).contains("templates"));
  CHECK(json::parse(answers[2].body)["status"] == "alive");
  CHECK(json::parse(answers[3].body)["status"] == "healthy");
  std::set<std::string> ids;
  for (auto& a : answers) ids.insert(a.headers["x-request-id"]);
  CHECK(ids.size() == 4);
}

TEST_CASE("hostile: without keys, other sites' writes and foreign Host names are refused") {
  tasker::ServerSettings settings = test_settings();
  settings.allowed_hosts = {"tasker.internal"};
  ServerFixture s(settings);
  auto post = [&](const std::string& headers, const std::string& body = linear_request().dump()) {
    RawSocket c(s.port());
    REQUIRE(
        c.send(fmt::format("POST /v1/tasks HTTP/1.1\r\n{}Content-Length: {}\r\n\r\n{}", headers, body.size(), body)));
    return one_answer(c);
  };
  const std::string host = fmt::format("Host: 127.0.0.1:{}\r\n", s.port());
  // A form or a fetch from another site: text/plain needs no preflight.
  CHECK(post(host + "Content-Type: text/plain\r\nOrigin: https://evil.example\r\n").status == 403);
  CHECK(post(host + "Content-Type: text/plain\r\n").status == 403);
  CHECK(post(host + "Content-Type: application/json\r\nOrigin: https://evil.example\r\n").status == 403);
  CHECK(post(host + "Content-Type: application/json\r\nOrigin: null\r\n").status == 403);
  CHECK(post(host + "Content-Type: application/json\r\nSec-Fetch-Site: cross-site\r\n").status == 403);
  // DNS rebinding: a page on evil.example resolved to 127.0.0.1 sends its own name.
  RawSocket rebound(s.port());
  REQUIRE(rebound.send("GET /v1/tasks HTTP/1.1\r\nHost: evil.example:8080\r\n\r\n"));
  RawAnswer refused = one_answer(rebound);
  CHECK(refused.status == 403);
  CHECK(json::parse(refused.body)["error"]["message"].get<std::string>().find("server.allowed_hosts") !=
        std::string::npos);
  s.nothing_written();
  // This server's own pages, and a configured name, are served.
  CHECK(post(host + fmt::format("Content-Type: application/json\r\nOrigin: http://127.0.0.1:{}\r\n"
                                "Sec-Fetch-Site: same-origin\r\n",
                                s.port()))
            .status == 201);
  CHECK(post("Host: tasker.internal\r\nContent-Type: application/json; charset=utf-8\r\n", linear_request(10).dump())
            .status == 201);
}

TEST_CASE("hostile: numbers out of range are 400 naming the field, answers are bounded") {
  tasker::ServerSettings settings = test_settings();
  settings.list_context_bytes = 1024;
  ServerFixture s(settings);
  json request = linear_request();
  Reply huge = s.call(
      "POST", "/v1/tasks",
      R"({"namespace": "linear_workflow", "name": "mathematical_sequence", "context": {"even_number": 1e999999}})");
  s.is_error(huge, 400, "BAD_REQUEST");
  CHECK(huge.body["error"]["field"] == "even_number");
  request["context"]["padding"] = std::string(4000, 'p');
  Reply created = s.call_json("POST", "/v1/tasks", request);
  REQUIRE(created.status == 201);
  Reply small = s.call_json("POST", "/v1/tasks", linear_request(8));
  REQUIRE(small.status == 201);
  Reply list = s.call("GET", "/v1/tasks?per_page=100");
  s.conforms(list, "/v1/tasks", "get");
  int omitted = 0;
  for (const auto& t : list.body["tasks"]) {
    if (!t.contains("context_omitted")) {
      CHECK(t["context"]["even_number"] == 8);
      continue;
    }
    ++omitted;
    CHECK(t["context"] == json::object());
    CHECK(t["context_omitted"]["bytes"].get<int>() > 4000);
    Reply whole = s.call("GET", t["context_omitted"]["href"].get<std::string>());
    CHECK(whole.body["context"]["padding"].get<std::string>().size() == 4000);
  }
  CHECK(omitted == 1);
}

TEST_CASE("hostile: an answer over server.max_response_bytes is refused, not sent") {
  tasker::ServerSettings settings = test_settings();
  // The fixture reads the OpenAPI document (69 KB in 0.2), which must fit.
  settings.max_response_bytes = 128LL * 1024;
  ServerFixture s(settings);
  tasker::TaskRequest request = linear_task();
  request.context["padding"] = std::string(200'000, 'p');
  const std::string uuid = s.client().submit(request).uuid;
  Reply read = s.call("GET", "/v1/tasks/" + uuid);
  s.is_error(read, 500, "RESPONSE_TOO_LARGE");
  CHECK(read.body["error"]["message"].get<std::string>().find("server.max_response_bytes") != std::string::npos);
}

TEST_CASE("hostile: tasker serve stops on SIGTERM with slow clients connected") {
  const auto db = std::filesystem::temp_directory_path() / fmt::format("tasker-sigterm-{}.db", tasker::new_uuid());
  e2e::ChildProcess serve({TASKER_CLI_PATH, "serve", "--db", "sqlite://" + db.string(), "--templates",
                           (source_dir() / "templates").string(), "--listen", "127.0.0.1:0"},
                          true);
  const std::string url = serve.first_line(std::chrono::seconds{60});
  const int port = std::stoi(url.substr(url.rfind(':') + 1));
  std::vector<std::unique_ptr<RawSocket>> slow;
  for (int i = 0; i < 16; ++i) {
    slow.push_back(std::make_unique<RawSocket>(port, attacker(i).c_str()));
    REQUIRE(slow.back()->send("GET /v1/tasks HTTP/1.1\r\nHost: localhost\r\nX-Slow: "));
  }
  RawSocket probe(port);
  REQUIRE(probe.send(kHealth));
  CHECK(one_answer(probe).status == 200);
  CHECK(serve.stop() == 0);  // ctest's timeout is what would catch a server that never stops
  for (auto& c : slow) CHECK(c->closed_by_server());
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db.string() + suffix);
}

TEST_CASE("hostile: the handler threads' queue is bounded: beyond it a request is refused, not queued") {
  tasker::server::WorkPool pool(1, 1);
  std::promise<void> started, release;
  auto released = release.get_future().share();
  std::atomic<int> ran{0};
  REQUIRE(pool.try_post([&] {
    started.set_value();
    released.wait();
    ++ran;
  }));
  started.get_future().wait();                 // the one thread is busy
  CHECK(pool.try_post([&] { ++ran; }));        // waits: the queue holds one
  CHECK_FALSE(pool.try_post([&] { ++ran; }));  // beyond server.queue_limit: the listener answers 503
  release.set_value();
  for (int i = 0; i < 3000 && ran < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds{10});
  CHECK(ran == 2);
  CHECK(pool.try_post([&] { ++ran; }));  // room again
  for (int i = 0; i < 3000 && ran < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds{10});
  CHECK(ran == 3);
}
