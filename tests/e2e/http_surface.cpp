// The HTTP surface: a `tasker serve` process and worker processes on the
// harness's database, every operation through HttpApi (the seed's single API client).

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <vector>

#include "child_process.hpp"
#include "handlers.hpp"
#include "surface.hpp"
#include "tasker/errors.hpp"
#include "tasker/http_api.hpp"

namespace e2e {

bool http_surface() {
  const char* v = std::getenv("TASKER_TEST_SURFACE");
  std::string s = v ? v : "library";
  if (s == "library") return false;
  if (s == "http") return true;
  throw tasker::ConfigurationError("TASKER_TEST_SURFACE", "the environment",
                                   fmt::format("`{}` is not library or http", s));
}

namespace {

class HttpSurface final : public tasker::testing::Surface {
 public:
  explicit HttpSurface(tasker::testing::Harness& h) : h_(h) {
    std::vector<std::string> args{TASKER_CLI_PATH,         "serve",    "--db",       h.database_url(), "--env",
                                  h.options().environment, "--listen", "127.0.0.1:0"};
    for (const auto& p : h.options().template_paths) {
      args.emplace_back("--templates");
      args.push_back(p.string());
    }
    server_ = std::make_unique<ChildProcess>(args, true);
    api_ = std::make_unique<tasker::testing::HttpApi>(server_->first_line(std::chrono::seconds{60}));
  }
  ~HttpSurface() override {
    stop_workers();
    api_.reset();  // closes the kept-alive connection, which the server would otherwise wait out on stop
    server_.reset();
  }
  tasker::testing::TaskApi& api() override { return *api_; }
  void start_workers() override {
    if (worker_) return;
    worker_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{TASKER_E2E_WORKER_PATH, "--db", h_.database_url(), "--handlers",
                                 std::string(tasker::testing::to_string(h_.handler_kind())), "--id",
                                 "http-surface-worker", "--lease-ms",
                                 std::to_string(h_.options().worker.lease.count())},
        false);
  }
  void stop_workers() override { worker_.reset(); }

 private:
  tasker::testing::Harness& h_;
  std::unique_ptr<ChildProcess> server_;
  std::unique_ptr<ChildProcess> worker_;
  std::unique_ptr<tasker::testing::HttpApi> api_;
};

}  // namespace

std::unique_ptr<tasker::testing::Surface> make_http_surface(tasker::testing::Harness& h) {
  return std::make_unique<HttpSurface>(h);
}

}  // namespace e2e
