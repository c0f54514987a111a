#pragma once
// The API tests' fixture: a real ApiServer on a loopback port over a real
// SQLite file (or the test PostgreSQL), an HTTP client, and the OpenAPI
// document every response is checked against.
#include <doctest/doctest.h>
#include <httplib.h>

#include <filesystem>
#include <memory>
#include <string>

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

/// The SHA-256 of `text` in hex, as server.api_keys holds a key.
std::string sha256_hex(const std::string& text);

/// A task request body for the linear workflow.
json linear_request(int even_number = 6);
/// The same request as a TaskRequest.
tasker::TaskRequest linear_task(int even_number = 6);

}  // namespace api_test
