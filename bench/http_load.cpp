// The HTTP API under load (issue 10): N concurrent clients, each with its own
// kept-alive connection (HttpApi), submit a task and read it back, in turns,
// for a fixed time against `tasker::ApiServer` on loopback. Reports requests
// per second and latency percentiles per operation, and exits 1 on any error.
// Measured, never asserted: docs/performance.md has the figures and command.
//
//   bench_http [--clients 32] [--seconds 60] [--db URL] [--threads N]
#include <fmt/format.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "tasker/client.hpp"
#include "tasker/http_api.hpp"
#include "tasker/server.hpp"

int main(int argc, char** argv) {
  int clients = 32, seconds = 60, threads = 0;
  std::string url;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--clients")
      clients = std::stoi(argv[i + 1]);
    else if (flag == "--seconds")
      seconds = std::stoi(argv[i + 1]);
    else if (flag == "--db")
      url = argv[i + 1];
    else if (flag == "--threads")
      threads = std::stoi(argv[i + 1]);
    else {
      fmt::print(stderr, "usage: bench_http [--clients N] [--seconds S] [--db URL] [--threads N]\n");
      return 2;
    }
  }
  std::filesystem::path file;
  if (url.empty()) {
    file = std::filesystem::temp_directory_path() / fmt::format("tasker-bench-http-{}.db", tasker::new_uuid());
    url = "sqlite://" + file.string();
  }
  auto store = tasker::open_store(url);
  auto templates = std::make_shared<tasker::TemplateSet>(tasker::TemplateSet::load({TASKER_SOURCE_DIR "/templates"}));
  auto client = std::make_shared<tasker::Client>(store, templates);
  tasker::ServerSettings settings;
  settings.listen = "127.0.0.1:0";
  if (threads > 0) settings.threads = threads;  // connections take no thread: the default 16 serves any number
  tasker::ApiServer server(client, settings);
  server.start();

  std::mutex mutex;
  std::vector<double> submit_ms, read_ms;
  std::atomic<long long> errors{0};
  std::string first_error;
  const auto start = bench::SteadyClock::now();
  const auto deadline = start + std::chrono::seconds{seconds};
  std::vector<std::thread> workers;
  workers.reserve(static_cast<std::size_t>(clients));
  for (int c = 0; c < clients; ++c)
    workers.emplace_back([&, c] {
      tasker::testing::HttpApi api(server.url());
      std::vector<double> submits, reads;
      for (long long n = 0; bench::SteadyClock::now() < deadline; ++n) {
        tasker::TaskRequest r;
        r.namespace_name = "linear_workflow";
        r.name = "mathematical_sequence";
        r.context = {{"even_number", 2}, {"client", c}, {"n", n}};  // distinct identities
        try {
          auto t0 = bench::SteadyClock::now();
          auto task = api.submit(r);
          auto t1 = bench::SteadyClock::now();
          (void)api.get_task(task.uuid);
          auto t2 = bench::SteadyClock::now();
          submits.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
          reads.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
        } catch (const std::exception& e) {
          if (errors.fetch_add(1) == 0) {
            std::lock_guard lock(mutex);
            first_error = e.what();
          }
        }
      }
      std::lock_guard lock(mutex);
      submit_ms.insert(submit_ms.end(), submits.begin(), submits.end());
      read_ms.insert(read_ms.end(), reads.begin(), reads.end());
    });
  for (auto& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(bench::SteadyClock::now() - start).count();
  server.stop();
  const double requests = static_cast<double>(submit_ms.size() + read_ms.size());
  fmt::print("bench_http: {} clients for {:.1f} s on {} ({} server threads)\n", clients, elapsed, store->backend(),
             settings.threads);
  fmt::print("| requests | requests/s | errors | operation | p50 ms | p99 ms |\n|---|---|---|---|---|---|\n");
  fmt::print("| {:.0f} | {:.0f} | {} | POST /v1/tasks | {:.2f} | {:.2f} |\n", requests, requests / elapsed,
             errors.load(), bench::percentile(submit_ms, 50), bench::percentile(submit_ms, 99));
  fmt::print("| | | | GET /v1/tasks/{{uuid}} | {:.2f} | {:.2f} |\n", bench::percentile(read_ms, 50),
             bench::percentile(read_ms, 99));
  if (errors) fmt::print(stderr, "bench_http: {} errors; the first: {}\n", errors.load(), first_error);
  client.reset();
  store.reset();
  if (!file.empty())
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file.string() + suffix);
  return errors ? 1 : 0;
}
