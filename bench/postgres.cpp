// The engine on PostgreSQL (docs/performance.md, "Engine on PostgreSQL";
// issue 4's benchmark). Starts its own throwaway PostgreSQL 15 with fsync on
// (scripts/pg-test-server start DIR PORT --durable), and in one run prints:
//
//   1. pgbench's single-statement commit rate (one INSERT per transaction) at
//      1, 2 and 4 clients against that server: the ceiling;
//   2. for 1, 2 and 4 worker processes (bench_pg_worker, each with its own
//      connections) and two worker shapes, no-op steps per second for 1,000
//      tasks of a 4-step linear workflow, one 10,000-step fan-out/fan-in task
//      and one 10,000-step chain; steps per committed worker transaction
//      (WorkerStats::transactions, summed over the processes) and per WAL
//      flush (pg_stat_wal.wal_sync); and steps/s divided by pgbench's rate at
//      the same client count, measured just before and just after the drain;
//   3. submit-to-complete latency of one 4-step task with 1, 2 and 4 worker
//      processes running (median, p95);
//   4. per-step cost of the fan-out/fan-in and the chain at 100 and at 10,000
//      steps (one process).
//
// The driver submits every task first (into a fresh schema), then tells the
// workers to go; the drain time runs from that moment to the last task's
// completed_at as the workers recorded it. The server, the workers and
// pgbench are all stopped before it exits, also on an error or Ctrl-C.
//
//   bench_postgres [--quick] [--port PORT] [--ceiling-seconds S]
//   bench_postgres [--url URL] --one SHAPE:STEPS:TASKS:PROCESSES:CONCURRENCY:BATCH
//       one drain (for profiling); --url uses a server started by
//       scripts/pg-test-server instead of starting a durable one.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "tasker/client.hpp"
#include "tasker/json.hpp"
#include "tasker/store.hpp"

extern char** environ;

namespace fs = std::filesystem;
using namespace bench;
using tasker::json;

namespace {

volatile std::sig_atomic_t interrupted = 0;
void on_signal(int sig) { interrupted = sig; }
void check_interrupted() {
  if (interrupted) throw std::runtime_error(fmt::format("interrupted by signal {}", static_cast<int>(interrupted)));
}

std::int64_t epoch_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------------------
// Child processes

/// A child with its stdin and stdout on pipes; killed and reaped on destruction.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env, bool merge_stderr) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
      throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (merge_stderr) posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<std::string> env_storage;  // `extra_env` overrides the inherited variables of the same name
    for (char** e = environ; *e; ++e) {
      std::string_view var = *e;
      bool overridden = false;
      for (const auto& x : extra_env) overridden |= var.substr(0, var.find('=') + 1) == x.substr(0, x.find('=') + 1);
      if (!overridden) env_storage.emplace_back(var);
    }
    for (const auto& e : extra_env) env_storage.push_back(e);
    std::vector<char*> env;
    env.reserve(env_storage.size() + 1);
    for (auto& e : env_storage) env.push_back(e.data());
    env.push_back(nullptr);
    int rc = posix_spawn(&pid_, argv[0].c_str(), &fa, nullptr, args.data(), env.data());
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
      close(in[1]);
      close(out[0]);
      pid_ = -1;
      throw std::runtime_error(fmt::format("cannot start {}: {}", argv[0], std::strerror(rc)));
    }
    in_ = in[1];
    out_ = out[0];
    name_ = argv[0];
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    close_stdin();
    if (pid_ > 0 && !wait_exit(std::chrono::seconds{10})) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }

  void send(const std::string& line) {
    std::string l = line + "\n";
    if (in_ < 0 || write(in_, l.data(), l.size()) != static_cast<ssize_t>(l.size()))
      throw std::runtime_error(fmt::format("{} (pid {}) is not reading its input", name_, pid_));
  }
  void close_stdin() {
    if (in_ >= 0) close(in_);
    in_ = -1;
  }
  int out_fd() const { return out_; }
  pid_t pid() const { return pid_; }

  /// Read what is available into the line buffer; false at EOF.
  bool fill() {
    char buf[4096];
    ssize_t n = read(out_, buf, sizeof buf);
    if (n > 0) {
      buffer_.append(buf, static_cast<std::size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR) return true;
    eof_ = true;
    return false;
  }
  std::optional<std::string> take_line() {
    auto nl = buffer_.find('\n');
    if (nl == std::string::npos) return std::nullopt;
    std::string line = buffer_.substr(0, nl);
    buffer_.erase(0, nl + 1);
    return line;
  }
  bool eof() const { return eof_; }
  std::string rest() const { return buffer_; }

  /// Wait for the child to exit; true when it did (its status in exit_status()).
  bool wait_exit(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return true;
    auto until = SteadyClock::now() + timeout;
    for (;;) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        status_ = status;
        pid_ = -1;
        return true;
      }
      if (r < 0 && errno != EINTR) {
        pid_ = -1;
        return true;
      }
      if (SteadyClock::now() >= until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
  }
  int exit_status() const { return status_; }

 private:
  pid_t pid_{-1};
  int in_{-1};
  int out_{-1};
  int status_{0};
  bool eof_{false};
  std::string buffer_;
  std::string name_;
};

/// The next line from any of `children`, with the index of the child; nullopt on timeout.
std::optional<std::pair<std::size_t, std::string>> next_line(std::vector<std::unique_ptr<Child>>& children,
                                                             std::chrono::milliseconds timeout) {
  auto until = SteadyClock::now() + timeout;
  for (;;) {
    check_interrupted();
    for (std::size_t i = 0; i < children.size(); ++i)
      if (auto l = children[i]->take_line()) return std::make_pair(i, *l);
    std::vector<pollfd> fds;
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < children.size(); ++i)
      if (!children[i]->eof()) {
        fds.push_back({children[i]->out_fd(), POLLIN, 0});
        which.push_back(i);
      }
    if (fds.empty()) throw std::runtime_error("every worker process has exited");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now()).count();
    if (left <= 0) return std::nullopt;
    int n = poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left, 200)));
    if (n < 0 && errno != EINTR) throw std::runtime_error(fmt::format("poll: {}", std::strerror(errno)));
    // A child at EOF is only dropped from the poll set: one that exits after
    // reporting its stats is expected; callers notice ones that exit early.
    for (std::size_t k = 0; n > 0 && k < fds.size(); ++k)
      if (fds[k].revents) children[which[k]]->fill();
  }
}

/// Run a command to completion; its stdout and stderr.
std::string run_command(const std::vector<std::string>& argv, const std::vector<std::string>& env, int& status) {
  Child c(argv, env, true);
  c.close_stdin();
  std::string out;
  while (c.fill()) check_interrupted();
  out = c.rest();
  c.wait_exit(std::chrono::hours{1});
  status = c.exit_status();
  return out;
}

std::string find_pgbench() {
  for (const char* dir : {"/usr/bin", "/usr/local/bin"})
    if (access((std::string(dir) + "/pgbench").c_str(), X_OK) == 0) return std::string(dir) + "/pgbench";
  std::vector<fs::path> found;
  if (fs::exists("/usr/lib/postgresql"))
    for (const auto& d : fs::directory_iterator("/usr/lib/postgresql"))
      if (access((d.path() / "bin/pgbench").c_str(), X_OK) == 0) found.push_back(d.path() / "bin/pgbench");
  if (found.empty()) throw std::runtime_error("pgbench not found (install postgresql-contrib or postgresql-client)");
  std::sort(found.begin(), found.end());
  return found.back().string();
}

// ---------------------------------------------------------------------------

struct Options {
  bool quick{false};
  int port{0};
  std::string url;     ///< --url: use this server (made by pg-test-server) instead of starting one
  std::string one;     ///< --one: a single drain, for profiling
  bool analyze{true};  ///< ANALYZE the schema after submitting (--no-analyze: plan without statistics)
  double ceiling_seconds{10};
};

/// The port of a URL pg-test-server prints (postgresql://user:pw@host:PORT/db).
int port_of(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

/// The throwaway server: started in the constructor, stopped in the destructor.
class Server {
 public:
  Server(fs::path dir, int port) : dir_(std::move(dir)) {
    int status = 0;
    std::string out =
        run_command({TASKER_BENCH_PG_SCRIPT, "start", dir_.string(), std::to_string(port), "--durable"}, {}, status);
    started_ = true;  // stop() is harmless if it did not start
    if (status != 0) throw std::runtime_error("the PostgreSQL server did not start:\n" + out);
    auto pos = out.find("postgresql://");
    url_ = out.substr(pos, out.find('\n', pos) - pos);
    port_ = port_of(url_);  // the script moves to the next port when another process holds this one
  }
  /// A server started by `scripts/pg-test-server start` elsewhere: used, not stopped.
  explicit Server(std::string url) : url_(std::move(url)), port_(port_of(url_)) {}
  ~Server() {
    if (!started_) return;
    int status = 0;
    std::string out = run_command({TASKER_BENCH_PG_SCRIPT, "stop", dir_.string()}, {}, status);
    if (status != 0) fmt::print(stderr, "bench_postgres: stopping the server failed:\n{}\n", out);
  }
  const std::string& url() const { return url_; }
  int port() const { return port_; }

 private:
  fs::path dir_;
  std::string url_;
  int port_{0};
  bool started_{false};
};

struct Wal {
  std::int64_t syncs{0};
  std::int64_t writes{0};
};

class PgBench {
 public:
  PgBench(const Options& o, fs::path scratch, const Server& server)
      : o_(o), scratch_(std::move(scratch)), server_(server), admin_(server.url()), pgbench_(find_pgbench()) {
    pqxx::nontransaction n(admin_);
    n.exec(
        "CREATE TABLE IF NOT EXISTS ceiling (id BIGSERIAL PRIMARY KEY, v INTEGER NOT NULL, at TIMESTAMPTZ NOT NULL "
        "DEFAULT now())");
    std::ofstream(scratch_ / "ceiling.sql") << "INSERT INTO ceiling (v) VALUES (1);\n";
  }

  std::string settings() {
    pqxx::nontransaction n(admin_);
    auto r = n.exec(
        "SELECT version(), current_setting('fsync'), current_setting('synchronous_commit'), "
        "current_setting('full_page_writes'), current_setting('wal_sync_method'), current_setting('shared_buffers'), "
        "current_setting('commit_delay')");
    return fmt::format(
        "{}\nfsync={} synchronous_commit={} full_page_writes={} wal_sync_method={} shared_buffers={} "
        "commit_delay={}",
        r[0][0].c_str(), r[0][1].c_str(), r[0][2].c_str(), r[0][3].c_str(), r[0][4].c_str(), r[0][5].c_str(),
        r[0][6].c_str());
  }

  Wal wal() {
    pqxx::nontransaction n(admin_);
    auto r = n.exec("SELECT wal_sync, wal_write FROM pg_stat_wal");
    return {r[0][0].as<std::int64_t>(), r[0][1].as<std::int64_t>()};
  }

  /// pgbench: one INSERT per transaction, `clients` clients and threads, for `seconds`.
  struct Ceiling {
    double tps{0};
    std::int64_t wal_syncs{0};
  };
  Ceiling pgbench(int clients, double seconds) {
    check_interrupted();
    Wal before = wal();
    int status = 0;
    std::string out = run_command(
        {pgbench_, "-n", "-c", std::to_string(clients), "-j", std::to_string(clients), "-T",
         std::to_string(static_cast<int>(std::max(1.0, seconds))), "-f", (scratch_ / "ceiling.sql").string(), "-h",
         "127.0.0.1", "-p", std::to_string(server_.port()), "-U", "tasker", "tasker"},
        {"PGPASSWORD=tasker"}, status);
    if (status != 0) throw std::runtime_error("pgbench failed:\n" + out);
    auto pos = out.find("tps = ");
    if (pos == std::string::npos) throw std::runtime_error("no tps in pgbench's output:\n" + out);
    Ceiling c;
    c.tps = std::stod(out.substr(pos + 6));
    std::this_thread::sleep_for(std::chrono::milliseconds{300});  // pgbench's sessions report their stats as they exit
    c.wal_syncs = wal().syncs - before.syncs;
    return c;
  }

  /// A drain on PostgreSQL also counts the server's WAL flushes.
  struct PgRun : bench::Run {
    std::int64_t wal_syncs{0};
    /// Row updates of the drain (submits included) and how many were HOT
    /// (no index entries added): tasks, then steps.
    std::int64_t task_updates{0}, task_hot{0}, step_updates{0}, step_hot{0};
    [[nodiscard]] double steps_per_flush() const {
      return static_cast<double>(steps) / static_cast<double>(std::max<std::int64_t>(wal_syncs, 1));
    }
  };

  std::vector<std::unique_ptr<Child>> spawn_workers(const std::string& url, int procs, WorkerShape ws, bool report) {
    std::vector<std::unique_ptr<Child>> workers;
    for (int i = 0; i < procs; ++i) {
      std::vector<std::string> argv{TASKER_BENCH_PG_WORKER,
                                    "--db",
                                    url,
                                    "--id",
                                    fmt::format("bench-w{}", i + 1),
                                    "--concurrency",
                                    std::to_string(ws.concurrency),
                                    "--batch",
                                    std::to_string(ws.batch)};
      if (report) argv.push_back("--report-completions");
      workers.push_back(std::make_unique<Child>(argv, std::vector<std::string>{}, false));
    }
    std::size_t ready = 0;
    while (ready < workers.size()) {
      for (auto& w : workers)
        if (w->eof())
          throw std::runtime_error(fmt::format("a worker process exited before it was ready: {}", w->rest()));
      auto l = next_line(workers, std::chrono::seconds{60});
      if (!l) throw std::runtime_error("worker processes did not become ready within 60 s");
      if (l->second == "ready") ++ready;
    }
    return workers;
  }

  /// Stop the workers; their summed transactions and successes.
  std::pair<std::uint64_t, std::uint64_t> stop_workers(std::vector<std::unique_ptr<Child>>& workers) {
    for (auto& w : workers) w->send("stop");
    std::uint64_t transactions = 0, succeeded = 0;
    std::size_t reported = 0;
    while (reported < workers.size()) {
      auto l = next_line(workers, std::chrono::seconds{60});
      if (!l) throw std::runtime_error("worker processes did not stop within 60 s");
      if (l->second.empty() || l->second[0] != '{') continue;
      json j = json::parse(l->second);
      transactions += j.at("transactions").get<std::uint64_t>();
      succeeded += j.at("succeeded").get<std::uint64_t>();
      ++reported;
    }
    for (auto& w : workers) w->wait_exit(std::chrono::seconds{10});
    workers.clear();
    return {transactions, succeeded};
  }

  std::string fresh_schema() {
    std::string schema = fmt::format("bench_{}_{}", getpid(), ++schemas_);
    drop_schema(schema);
    return schema;
  }
  void drop_schema(const std::string& schema) {
    pqxx::nontransaction n(admin_);
    n.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
  }

  /// Submit every task into a fresh schema, start `procs` worker processes,
  /// and time the drain from `go` to the last completed_at.
  PgRun drain(const Workload& w, int procs, WorkerShape ws, double ceiling_seconds) {
    auto templates = make_templates({{w.shape, w.steps_per_task}});
    const std::string schema = fresh_schema();
    const std::string url = server_.url() + "?schema=" + schema;
    PgRun r;
    {
      tasker::StoreOptions so;
      so.listen = false;
      auto store = tasker::open_store(url, so);
      tasker::Client client(store, templates);
      tasker::TaskRequest req;
      req.namespace_name = kNamespace;
      req.name = template_name(w.shape, w.steps_per_task);
      auto start = SteadyClock::now();
      for (std::size_t i = 0; i < w.tasks; ++i) {
        check_interrupted();
        req.context = {{"i", i}};
        client.submit(req);
      }
      r.submit_s = seconds_since(start);
    }
    if (o_.analyze) {
      // What autovacuum has long done on a database in service: without
      // statistics PostgreSQL plans a fresh schema's joins as scans.
      pqxx::nontransaction n(admin_);
      n.exec(fmt::format("ANALYZE {0}.tasker_tasks, {0}.tasker_steps, {0}.tasker_step_edges", schema));
    }
    if (ceiling_seconds > 0) r.ceiling_before = pgbench(procs, ceiling_seconds).tps;
    auto workers = spawn_workers(url, procs, ws, false);
    Wal before = wal();
    const std::int64_t go_ms = epoch_us() / 1000;
    for (auto& c : workers) c->send("go");
    const std::string remaining_sql = fmt::format(
        "SELECT COUNT(*) FILTER (WHERE state <> 'complete'), MAX(completed_at) FROM {}.tasker_tasks", schema);
    std::int64_t last_completed = 0;
    auto deadline = SteadyClock::now() + std::chrono::minutes{30};
    for (;;) {
      check_interrupted();
      // Worker processes that exit early are noticed here.
      for (auto& c : workers)
        if (c->wait_exit(std::chrono::milliseconds{0}))
          throw std::runtime_error(
              fmt::format("a worker process exited during the drain (status {})", c->exit_status()));
      pqxx::nontransaction n(admin_);
      auto res = n.exec(remaining_sql);
      if (res[0][0].as<std::int64_t>() == 0) {
        last_completed = res[0][1].as<std::int64_t>();
        break;
      }
      if (SteadyClock::now() > deadline) throw std::runtime_error(w.label + ": not drained within 30 minutes");
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    auto [transactions, succeeded] = stop_workers(workers);
    std::this_thread::sleep_for(std::chrono::milliseconds{300});  // the sessions report their stats as they exit
    r.wal_syncs = wal().syncs - before.syncs;
    if (ceiling_seconds > 0) r.ceiling_after = pgbench(procs, ceiling_seconds).tps;
    r.drain_s = static_cast<double>(last_completed - go_ms) / 1000.0;
    r.steps = succeeded;
    r.transactions = transactions;
    if (succeeded != w.steps())
      throw std::runtime_error(fmt::format("{}: {} steps succeeded, expected {}", w.label, succeeded, w.steps()));
    {
      pqxx::nontransaction n(admin_);
      for (const auto& row : n.exec(fmt::format(
               "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE schemaname = '{}'", schema))) {
        const std::string table = row[0].as<std::string>();
        if (table == "tasker_tasks") {
          r.task_updates = row[1].as<std::int64_t>();
          r.task_hot = row[2].as<std::int64_t>();
        } else if (table == "tasker_steps") {
          r.step_updates = row[1].as<std::int64_t>();
          r.step_hot = row[2].as<std::int64_t>();
        }
      }
    }
    drop_schema(schema);
    return r;
  }

  /// Submit-to-complete of one 4-step task with `procs` worker processes running.
  std::vector<double> latency(int procs, WorkerShape ws, int runs) {
    auto templates = make_templates({{Shape::linear, 4}});
    const std::string schema = fresh_schema();
    const std::string url = server_.url() + "?schema=" + schema;
    std::vector<double> ms;
    {
      tasker::StoreOptions so;
      so.listen = false;
      auto store = tasker::open_store(url, so);
      tasker::Client client(store, templates);
      auto workers = spawn_workers(url, procs, ws, true);
      for (auto& c : workers) c->send("go");
      tasker::TaskRequest req;
      req.namespace_name = kNamespace;
      req.name = template_name(Shape::linear, 4);
      const int warm = 5;
      for (int i = 0; i < warm + runs; ++i) {
        req.context = {{"run", i}};
        const std::int64_t start = epoch_us();
        const std::string uuid = client.submit(req).uuid;
        for (;;) {
          auto l = next_line(workers, std::chrono::seconds{30});
          if (!l) throw std::runtime_error(fmt::format("latency: task {} did not complete within 30 s", uuid));
          if (l->second.rfind("done " + uuid + " ", 0) != 0) continue;
          if (i >= warm)
            ms.push_back(static_cast<double>(std::stoll(l->second.substr(6 + uuid.size())) - start) / 1000.0);
          break;
        }
      }
      stop_workers(workers);
    }
    drop_schema(schema);
    return ms;
  }

 private:
  const Options& o_;
  fs::path scratch_;
  const Server& server_;
  pqxx::connection admin_;
  std::string pgbench_;
  int schemas_{0};
};

int run(const Options& o, const fs::path& scratch) {
  // pg-test-server moves to the next free port when this one is taken.
  const int port = o.port != 0 ? o.port : 38000 + static_cast<int>(getpid() % 500);

  std::optional<Server> server;
  if (o.url.empty()) {
    server.emplace(scratch / "server", port);
  } else {
    server.emplace(o.url);
  }
  PgBench b(o, scratch, *server);
  if (!o.one.empty()) {
    // --one SHAPE:STEPS:TASKS:PROCESSES:CONCURRENCY:BATCH
    std::vector<std::string> f;
    for (std::size_t start = 0;;) {
      auto end = o.one.find(':', start);
      f.push_back(o.one.substr(start, end == std::string::npos ? end : end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
    if (f.size() != 6) throw std::runtime_error("--one needs SHAPE:STEPS:TASKS:PROCESSES:CONCURRENCY:BATCH");
    Shape shape = f[0] == "fan" ? Shape::fan : f[0] == "chain" ? Shape::chain : Shape::linear;
    Workload w{o.one, shape, std::stoul(f[1]), std::stoul(f[2])};
    auto r = b.drain(w, std::stoi(f[3]), {std::stoi(f[4]), std::stoi(f[5])}, 1);
    fmt::print(
        "{}: {} steps in {:.3f} s: {} steps/s, {:.0f} µs/step, {} worker txns, {} WAL flushes; pgbench {} / {} "
        "tps; submit {:.3f} s; updates: tasks {} ({} HOT), steps {} ({} HOT)\n",
        o.one, r.steps, r.drain_s, rate(r.steps_per_s()), r.us_per_step(), r.transactions, r.wal_syncs,
        rate(r.ceiling_before), rate(r.ceiling_after), r.submit_s, r.task_updates, r.task_hot, r.step_updates,
        r.step_hot);
    return 0;
  }
  const std::size_t big = o.quick ? 1'000 : 10'000;
  const std::size_t tasks = o.quick ? 100 : 1'000;
  const int latency_runs = o.quick ? 10 : 50;
  const int reps = o.quick ? 1 : 3;
  const double interleaved = o.quick ? 1 : 2;
  const std::vector<int> procs{1, 2, 4};

  fmt::print("# bench_postgres{}: a throwaway server on 127.0.0.1:{}\n\n{}\n\n", o.quick ? " --quick" : "", port,
             b.settings());

  fmt::print("## pgbench: one INSERT per transaction (ceiling; -T {:.0f})\n\n", o.ceiling_seconds);
  fmt::print("| clients | tps | WAL flushes | commits per flush |\n|---:|---:|---:|---:|\n");
  for (int n : procs) {
    auto c = b.pgbench(n, o.ceiling_seconds);
    fmt::print("| {} | {} | {} | {:.2f} |\n", n, rate(c.tps), c.wal_syncs,
               c.tps * o.ceiling_seconds / static_cast<double>(std::max<std::int64_t>(c.wal_syncs, 1)));
    std::fflush(stdout);
  }

  using W = Workload;
  using WS = WorkerShape;
  const std::vector<W> workloads{
      {fmt::format("{} x linear-4", tasks), Shape::linear, 4, tasks},
      {fmt::format("fan-out/in {}", big), Shape::fan, big, 1},
      {fmt::format("chain {}", big), Shape::chain, big, 1},
  };
  const std::vector<WS> shapes{{1, 1}, {16, 16}};
  fmt::print("\n## Throughput: no-op steps; P worker processes, each c handler threads, batch b\n\n");
  fmt::print(
      "| workload | processes x worker | steps/s | µs/step | worker txns | steps/txn | WAL flushes | steps/flush | "
      "pgbench tps, same clients, before/after | steps/s ÷ pgbench tps | submit s |\n");
  fmt::print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::map<std::pair<int, int>, PgBench::PgRun> c16;  // (workload, procs) -> run with the batching shape
  for (std::size_t wi = 0; wi < workloads.size(); ++wi)
    for (auto ws : shapes)
      for (int n : procs) {
        auto r = b.drain(workloads[wi], n, ws, interleaved);
        if (ws.concurrency == 16) c16[{static_cast<int>(wi), n}] = r;
        fmt::print("| {} | {} x c{} b{} | {} | {:.0f} | {} | {:.2f} | {} | {:.2f} | {} / {}{} | {:.2f} | {:.2f} |\n",
                   workloads[wi].label, n, ws.concurrency, ws.batch, rate(r.steps_per_s()), r.us_per_step(),
                   r.transactions, r.steps_per_txn(), r.wal_syncs, r.steps_per_flush(), rate(r.ceiling_before),
                   rate(r.ceiling_after), r.ceiling_moved() ? " †" : "", r.steps_per_s() / r.ceiling(), r.submit_s);
        std::fflush(stdout);
      }

  const WS latency_shape{4, 16};
  fmt::print("\n## Submit-to-complete latency of one 4-step task (worker processes running, each c{} b{}; {} runs)\n\n",
             latency_shape.concurrency, latency_shape.batch, latency_runs);
  fmt::print(
      "| processes | median ms | p95 ms | min ms | max ms | pgbench tps, 1 client, before/after | 6 pgbench commits, "
      "ms |\n");
  fmt::print("|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int n : procs) {
    // A task costs 6 commits: the submit, the first step's claim, then one per step (each records a step and
    // claims the next; the last claims nothing).
    double before = b.pgbench(1, interleaved).tps;
    auto v = b.latency(n, latency_shape, latency_runs);
    double after = b.pgbench(1, interleaved).tps;
    print_latency_row(std::to_string(n), v, before, after, 6);
  }

  const std::size_t small = 100;
  fmt::print(
      "\n## Per-step cost at {} and {} steps in one DAG (1 process, c16 b16; {}-step figures: median of {} runs)\n\n",
      small, big, small, reps);
  fmt::print(
      "| shape | µs/step at {0} | µs/step at {1} | ratio | commits' worth per step at {0} | at {1} | ratio | "
      "steps/flush at {0} | at {1} |\n",
      small, big);
  fmt::print("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (std::size_t wi = 1; wi < workloads.size(); ++wi) {
    W few{workloads[wi].label, workloads[wi].shape, small, 1};
    std::vector<double> us, commits, spf;
    for (int i = 0; i < reps; ++i) {
      auto r = b.drain(few, 1, {16, 16}, interleaved);
      us.push_back(r.us_per_step());
      commits.push_back(r.ceiling() / r.steps_per_s());
      spf.push_back(r.steps_per_flush());
    }
    const auto& large = c16.at({static_cast<int>(wi), 1});
    const double large_commits = large.ceiling() / large.steps_per_s();
    fmt::print("| {} | {:.0f} | {:.0f} | {:.2f} | {:.3f} | {:.3f} | {:.2f} | {:.2f} | {:.2f} |\n",
               shape_slug(workloads[wi].shape), median(us), large.us_per_step(), large.us_per_step() / median(us),
               median(commits), large_commits, large_commits / median(commits), median(spf), large.steps_per_flush());
    std::fflush(stdout);
  }
  fmt::print("\n† pgbench's rate changed by more than 2x between just before and just after that drain\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--quick") {
      o.quick = true;
    } else if (a == "--port" && i + 1 < argc) {
      o.port = std::atoi(argv[++i]);
    } else if (a == "--no-analyze") {
      o.analyze = false;
    } else if (a == "--url" && i + 1 < argc) {
      o.url = argv[++i];
    } else if (a == "--one" && i + 1 < argc) {
      o.one = argv[++i];
    } else if (a == "--ceiling-seconds" && i + 1 < argc) {
      o.ceiling_seconds = std::atof(argv[++i]);
    } else if (a == "-h" || a == "--help") {
      fmt::print(
          "usage: bench_postgres [--quick] [--port PORT] [--ceiling-seconds S] [--url URL] [--one "
          "SHAPE:STEPS:TASKS:P:C:B]\n");
      return 0;
    } else {
      fmt::print(stderr, "unknown argument `{}`; usage: bench_postgres [--quick] [--port PORT] [--ceiling-seconds S]\n",
                 a);
      return 2;
    }
  }
  bool ceiling_given = false;
  for (int i = 1; i < argc; ++i) ceiling_given |= std::string_view(argv[i]) == "--ceiling-seconds";
  if (o.quick && !ceiling_given) o.ceiling_seconds = 3;

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // The server's folder must be reachable by the `postgres` user when running as root.
  std::string tmpl = (fs::temp_directory_path() / "tasker-bench-pg-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) {
    fmt::print(stderr, "bench_postgres: cannot create a folder under {}\n", fs::temp_directory_path().string());
    return 1;
  }
  fs::path scratch = tmpl;
  chmod(scratch.c_str(), 0755);
  int rc = 1;
  try {
    rc = run(o, scratch);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_postgres: {}\n", e.what());
  }
  std::error_code ec;
  fs::remove_all(scratch, ec);
  return rc;
}
