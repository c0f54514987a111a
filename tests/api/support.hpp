#pragma once
// The API tests' fixture: a real ApiServer on a loopback port over a real
// SQLite file (or the test PostgreSQL), an HTTP client, and the OpenAPI
// document every response is checked against.
#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "openapi_check.hpp"
#include "tasker/client.hpp"
#include "tasker/server.hpp"
#include "tasker/store.hpp"

namespace api_test {

using tasker::json;

std::filesystem::path source_dir();

/// Server settings for tests: loopback, a free port, short timeouts.
tasker::ServerSettings test_settings();

struct Reply {
  int status{0};
  json body;
  httplib::Headers headers;
};

class ServerFixture {
 public:
  /// `templates`: the folder the server submits from (default: the project's templates/).
  explicit ServerFixture(tasker::ServerSettings settings = test_settings(), std::string database_url = {},
                         std::filesystem::path templates = {});
  ~ServerFixture();

  /// A request through cpp-httplib; `token` sent as a bearer token when set.
  Reply call(const std::string& method, const std::string& path, const std::string& body = {},
             const std::string& token = {});
  Reply call_json(const std::string& method, const std::string& path, const json& body, const std::string& token = {}) {
    return call(method, path, body.dump(), token);
  }
  /// The bytes `raw` sent on a fresh socket, then wait up to 30 s for the answer (the status line and body).
  Reply raw(const std::string& bytes);

  /// Checks `reply` against the OpenAPI document for `method path_template`.
  void conforms(const Reply& reply, const std::string& path_template, const std::string& method);
  /// Checks an error reply: status, code, a message, the documented Error schema.
  void is_error(const Reply& reply, int status, const std::string& code);
  /// Fails when the database holds any task.
  void nothing_written();

  tasker::Client& client() { return *client_; }
  [[nodiscard]] int port() const { return server_->port(); }
  [[nodiscard]] std::string url() const { return server_->url(); }
  [[nodiscard]] const std::string& database_url() const { return url_; }

 private:
  std::filesystem::path file_;
  std::string url_;
  std::shared_ptr<tasker::Store> store_;
  std::shared_ptr<tasker::Client> client_;
  std::unique_ptr<tasker::ApiServer> server_;
  std::unique_ptr<OpenApi> openapi_;
};

/// A TCP connection to a loopback port, for what an HTTP client library will
/// not send: bytes one at a time, broken framing, pipelined requests. Owns
/// its socket; not thread-safe.
class RawSocket {
 public:
  /// Connects to 127.0.0.1:`port` from `source` (another loopback address
  /// counts as another client). REQUIREs the connection.
  explicit RawSocket(int port, const char* source = "127.0.0.1");
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  /// Sends all of `bytes`; false when the server has closed or reset the connection.
  bool send(std::string_view bytes);
  /// Reads what arrives until `enough(text so far)`, the server closes, or
  /// `limit` passes (against hangs only); returns what arrived.
  std::string read(const std::function<bool(const std::string&)>& enough,
                   std::chrono::milliseconds limit = std::chrono::seconds{30});
  /// Reads until the server closes the connection (true) or `limit` passes (false).
  bool closed_by_server(std::chrono::milliseconds limit = std::chrono::seconds{30});
  /// Whether the server has closed the connection by now (no waiting).
  bool closed_now();

 private:
  int fd_{-1};
  bool closed_{false};
};

/// The answers in `text`, in order: each one's status and headers (names lower-cased) and body.
struct RawAnswer {
  int status{0};
  std::map<std::string, std::string> headers;
  std::string body;
};
std::vector<RawAnswer> parse_answers(const std::string& text);
/// Whether `text` holds `count` whole answers.
bool has_answers(const std::string& text, std::size_t count);

/// The value of the Prometheus sample `series` (exact text before the value) in `scrape`, 0 when absent.
double metric(const std::string& scrape, const std::string& series);

/// The SHA-256 of `text` in hex, as server.api_keys holds a key.
std::string sha256_hex(const std::string& text);

/// A task request body for the linear workflow.
json linear_request(int even_number = 6);
/// The same request as a TaskRequest.
tasker::TaskRequest linear_task(int even_number = 6);

}  // namespace api_test
