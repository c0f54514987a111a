#pragma once
// The CPU time of other processes, for bench_waiting: a worker process of its
// own (bench_pg_worker), and the PostgreSQL backends that serve a client's
// connections. Read from /proc/PID/task/*/schedstat: nanoseconds on a CPU,
// user and system, exact where /proc/PID/stat counts clock ticks.
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace bench {

/// Milliseconds process `pid` has run on a CPU, all its threads (user and
/// system: /proc/PID/task/TID/schedstat, exact where /proc/PID/stat counts
/// clock ticks); 0 when it cannot be read. A thread that ended is not counted.
inline double process_cpu_ms(long pid) {
  double ns = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), ec)) {
    std::ifstream f(task.path() / "schedstat");
    double on_cpu = 0;
    if (f >> on_cpu) ns += on_cpu;
  }
  return ns / 1e6;
}

/// A worker in a process of its own (bench_pg_worker, next to this program),
/// so that its CPU time is nothing but its own; stopped and reaped on destruction.
class WorkerProcess {
 public:
  WorkerProcess(const std::string& program, const std::string& url, const std::string& id) {
    int in[2];
    int out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    for (int fd : {in[0], in[1], out[0], out[1]}) posix_spawn_file_actions_addclose(&actions, fd);
    std::vector<std::string> args{program, "--db", url, "--id", id};
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    to_ = ::fdopen(in[1], "w");
    from_ = ::fdopen(out[0], "r");
    if (rc != 0) throw std::runtime_error(fmt::format("cannot start {}: {}", program, std::strerror(rc)));
    if (line() != "ready") throw std::runtime_error(program + " did not start");
    std::fputs("go\n", to_);
    std::fflush(to_);
  }
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;
  ~WorkerProcess() {
    if (pid_ > 0) stop();
  }
  [[nodiscard]] long pid() const { return pid_; }
  /// Stop it; its transactions over its life (from the JSON line it prints).
  long long stop() {
    std::fputs("stop\n", to_);
    std::fclose(to_);
    const std::string stats = line();
    std::fclose(from_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    const auto at = stats.find("\"transactions\":");
    return at == std::string::npos ? -1 : std::stoll(stats.substr(at + 15));
  }

 private:
  std::string line() {
    char buf[512];
    if (!std::fgets(buf, sizeof buf, from_)) return {};
    std::string l(buf);
    while (!l.empty() && l.back() == '\n') l.pop_back();
    return l;
  }
  pid_t pid_{-1};
  FILE* to_{nullptr};
  FILE* from_{nullptr};
};

/// The server backends serving the worker's connections (PostgreSQL; empty on SQLite).
class WorkerBackends {
 public:
  WorkerBackends() = default;
  /// `url` empty: not PostgreSQL, nothing to read.
  WorkerBackends(std::string url, std::string application)
      : url_(std::move(url)), application_(std::move(application)) {}
  /// Their CPU time so far, ms; the set of backends is read on the first call.
  double cpu_ms() {
    if (url_.empty()) return 0;
    if (pids_.empty()) {
      pqxx::connection c(url_);
      pqxx::nontransaction w(c);
      for (const auto& row :
           w.exec_params("SELECT pid FROM pg_stat_activity WHERE application_name = $1", application_))
        pids_.push_back(row[0].as<long>());
    }
    double total = 0;
    for (long pid : pids_) total += process_cpu_ms(pid);
    return total;
  }
  void forget() { pids_.clear(); }
  [[nodiscard]] std::size_t count() const { return pids_.size(); }

 private:
  std::string url_;
  std::string application_;
  std::vector<long> pids_;
};

}  // namespace bench
