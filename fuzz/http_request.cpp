// tasker's own checks of a request's header (lib/server/http_message.cpp) on
// arbitrary bytes: the target parser, framing, the bearer token, Host and
// Origin. Each answers or refuses, never crashes, and what it keeps is sound:
// a decoded path starts with `/` and holds no control byte. Also the times and
// durations a request or the CLI gives (run_at, --at, --in, a sleep's until).
#include <cstddef>
#include <cstdint>
#include <string>

#include "check.hpp"
#include "server/http_message.hpp"
#include "tasker/task.hpp"

using namespace tasker::server;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto target = parse_target(text)) {
    FUZZ_CHECK(!target->path.empty() && target->path.front() == '/');
    for (unsigned char c : target->path) FUZZ_CHECK(c >= 0x20 && c != 0x7f);
    for (const auto& [key, value] : target->params)
      for (unsigned char c : key + value) FUZZ_CHECK(c >= 0x20 && c != 0x7f);
  }
  if (auto token = bearer_token(text)) FUZZ_CHECK(!token->empty() && token->find(' ') == std::string_view::npos);
  if (auto host = host_name(text)) {
    FUZZ_CHECK(!host->empty());
    (void)host_allowed(*host, "127.0.0.1", {"tasker.internal"});
  }
  // The same bytes as header values: split at the first newline into two fields.
  const auto newline = text.find('\n');
  Request head;
  head.method = size % 2 ? "POST" : "GET";
  head.headers = {
      {"Content-Length", text.substr(0, newline)},
      {size % 3 ? "Origin" : "Transfer-Encoding", newline == std::string::npos ? "" : text.substr(newline + 1)},
      {"Host", "127.0.0.1:8080"}};
  (void)framing_problem(head);
  (void)cross_site_problem(head);
  if (auto t = tasker::parse_time(text)) {
    // What tasker writes back reads as the same time (from 1970 on, without a leap second).
    const bool leap = text.size() > 18 && text.compare(17, 2, "60") == 0;
    if (!leap && t->time_since_epoch().count() >= 0) FUZZ_CHECK(tasker::parse_time(tasker::format_time(*t)) == t);
  }
  if (auto d = tasker::parse_duration(text)) FUZZ_CHECK(d->count() >= 0 && *d <= std::chrono::hours{24 * 3650});
  const std::string cut = clipped(text, 16);
  FUZZ_CHECK(cut.size() <= 16 + 40 || cut == text);
  return 0;
}
