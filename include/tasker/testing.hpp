#pragma once
// tasker::testing::Harness: run workflows end to end in a test (docs/design.md,
// "Testing strategy"). It opens a store for the chosen backend (a temporary
// SQLite file, or a fresh schema on a PostgreSQL server), loads templates,
// registers handlers, runs a worker in the background, and waits for tasks.
// Framework-neutral: failures are exceptions carrying every step's state.
//
//   tasker::testing::Harness h({.template_paths = {"templates"}});
//   h.register_handler("math.square", square_fn, {"python3", "square.py"});
//   h.start_worker();
//   auto task = h.submit(h.create_task_request("ns", "name", {{"x", 6}}));
//   auto done = h.wait_for_task_completion(task.uuid);
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tasker/client.hpp"
#include "tasker/errors.hpp"
#include "tasker/events.hpp"
#include "tasker/handler.hpp"
#include "tasker/store.hpp"
#include "tasker/task_api.hpp"
#include "tasker/template_set.hpp"
#include "tasker/worker.hpp"

namespace tasker::testing {

class Harness;

/// Where a harness's operations go and where its workers run. Without one the
/// harness uses a Client and a Worker in this process (the library surface);
/// the e2e suite's HTTP surface runs `tasker serve` and worker processes and
/// talks to them with HttpApi. Scenarios are written once against Harness.
class Surface {
 public:
  virtual ~Surface() = default;
  [[nodiscard]] virtual TaskApi& api() = 0;
  virtual void start_workers() = 0;
  virtual void stop_workers() = 0;
};

enum class Backend { sqlite, postgres };
/// Which implementation register_handler() installs: the C++ callable, the
/// command run once per attempt, or the command kept running between attempts
/// (CommandSpec::persistent; docs/handlers.md).
enum class HandlerKind { cpp, command, persistent };

[[nodiscard]] std::string_view to_string(Backend backend);
[[nodiscard]] std::string_view to_string(HandlerKind kind);

/// TASKER_TEST_BACKEND (sqlite | postgres), default sqlite.
[[nodiscard]] Backend backend_from_environment();
/// TASKER_TEST_HANDLERS (cpp | command | persistent), default cpp.
[[nodiscard]] HandlerKind handler_kind_from_environment();
/// The PostgreSQL server for tests: TASKER_TEST_DATABASE_URL, else the first
/// line of the file named by TASKER_TEST_DATABASE_URL_FILE; empty when neither is set.
/// TASKER_TEST_DATABASE_URL_OPTIONS (`key=value&...`, e.g. `server_functions=off`)
/// is added to its options.
[[nodiscard]] std::string postgres_url_from_environment();

/// TASKER_TEST_TIMEOUT_SCALE: a number of at least 1 (default 1) by which the
/// harness's waits, and the waits of tasker's own test suites, are multiplied.
/// Waits are limits against hangs, never speed assertions: raise it on a slow
/// or heavily loaded machine. Throws ConfigurationError for anything else.
[[nodiscard]] double timeout_scale();
/// `limit` multiplied by timeout_scale().
[[nodiscard]] std::chrono::milliseconds scaled(std::chrono::milliseconds limit);

struct HarnessOptions {
  Backend backend{backend_from_environment()};
  HandlerKind handler_kind{handler_kind_from_environment()};
  std::string postgres_url{postgres_url_from_environment()};  ///< server URL; each harness gets its own schema
  std::vector<std::filesystem::path> template_paths;
  std::string environment{"test"};  ///< template overrides applied (test: short backoff, no jitter)
  WorkerOptions worker{test_worker_options()};
  const Clock* clock{&SystemClock::instance()};
  /// Makes the surface once the harness's database exists; empty: the library surface.
  std::function<std::unique_ptr<Surface>(Harness&)> surface;

  /// Worker settings that suit tests: 4 threads, 5 s leases, 20 ms fallback poll, no jitter.
  static WorkerOptions test_worker_options();
};

/// A wait timed out or ended in the wrong state; the message shows every step.
class HarnessError : public Error {
 public:
  using Error::Error;
};

/// Owns a store, a client, a handler registry and (once started) a worker.
/// Not thread-safe; one per test. The destructor stops the worker and deletes
/// the temporary SQLite file.
class Harness {
 public:
  explicit Harness(HarnessOptions options = {});
  ~Harness();
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  [[nodiscard]] Backend backend() const { return options_.backend; }
  [[nodiscard]] HandlerKind handler_kind() const { return options_.handler_kind; }
  /// The store's URL, for worker processes started by the test.
  [[nodiscard]] const std::string& database_url() const { return url_; }

  [[nodiscard]] HandlerRegistry& handlers() { return *handlers_; }
  /// Register `cpp` or `command` under `callable`, as handler_kind() says.
  /// Throws InvalidRequestError when the kind is command and `command` is empty.
  void register_handler(const std::string& callable, StepHandler cpp, std::vector<std::string> command);
  /// Register a C++ handler whatever handler_kind() says (a host with only C++ handlers).
  void register_handler(const std::string& callable, StepHandler cpp);

  /// Every operation on tasks, through the harness's surface (in-process or HTTP).
  [[nodiscard]] TaskApi& api() { return surface_ ? surface_->api() : *client_api_; }
  /// Whether operations go through a surface other than the in-process Client.
  [[nodiscard]] bool has_surface() const { return surface_ != nullptr; }
  [[nodiscard]] const HarnessOptions& options() const { return options_; }

  /// The in-process Client (the library surface; what scenarios that need the engine itself use).
  [[nodiscard]] Client& client() { return *client_; }
  /// The store itself, for tests of the storage contract.
  [[nodiscard]] std::shared_ptr<Store> store() { return store_; }
  [[nodiscard]] EventBus& events() { return *events_; }
  [[nodiscard]] const TemplateSet& templates() const { return *templates_; }

  /// Start the background worker (handlers must be registered first), or the surface's workers.
  void start_worker();
  void stop_worker();
  [[nodiscard]] Worker& worker();
  /// A second worker on the same store with its own options (e.g. for fencing tests).
  [[nodiscard]] std::unique_ptr<Worker> make_worker(WorkerOptions options);

  [[nodiscard]] TaskRequest create_task_request(const std::string& namespace_name, const std::string& name,
                                                json context = json::object()) const;
  [[nodiscard]] TaskRequest create_task_request_with_bypass(const std::string& namespace_name, const std::string& name,
                                                            json context, std::vector<std::string> bypass_steps) const;
  TaskView submit(const TaskRequest& request);

  /// Wait until the task is complete; throws HarnessError (with every step's
  /// state and last error) on timeout or if it ends in another state. Every
  /// wait's `timeout` is multiplied by timeout_scale().
  TaskView wait_for_task_completion(const std::string& task_uuid,
                                    std::chrono::milliseconds timeout = std::chrono::seconds{60});
  /// Wait until the task is in error (a step failed and nothing else can run).
  TaskView wait_for_task_failure(const std::string& task_uuid,
                                 std::chrono::milliseconds timeout = std::chrono::seconds{60});
  /// Wait until `done(task)` holds; `what` names the expectation in errors.
  TaskView wait_for(const std::string& task_uuid, const std::function<bool(const TaskView&)>& done,
                    const std::string& what, std::chrono::milliseconds timeout = std::chrono::seconds{60});

  /// The task and each step: state, attempts, last error. For failure messages.
  [[nodiscard]] std::string describe_task(const std::string& task_uuid);

 private:
  HarnessOptions options_;
  std::string url_;
  std::filesystem::path sqlite_file_;
  std::shared_ptr<Store> store_;
  std::shared_ptr<TemplateSet> templates_;
  std::shared_ptr<HandlerRegistry> handlers_ = std::make_shared<HandlerRegistry>();
  std::shared_ptr<EventBus> events_ = std::make_shared<EventBus>();
  std::unique_ptr<Client> client_;
  std::unique_ptr<ClientApi> client_api_;
  std::unique_ptr<Surface> surface_;
  std::unique_ptr<Worker> worker_;
};

}  // namespace tasker::testing
