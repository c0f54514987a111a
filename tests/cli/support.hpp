#pragma once
// Running the real `tasker` binary from tests: a sandbox folder with its own
// SQLite database, commands run to completion (stdout, stderr, exit code) or
// started in the background and signalled.
#include <doctest/doctest.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "tasker/json.hpp"

namespace cli_test {

using tasker::json;
using namespace std::chrono_literals;

/// The repository root.
std::filesystem::path source_dir();
/// examples/command_handlers in the repository.
std::filesystem::path example_dir();

/// What a finished command printed and returned.
struct Result {
  int exit_code{-1};
  std::string out;
  std::string err;

  /// stdout parsed as JSON; fails the test (showing both streams) when it is not.
  [[nodiscard]] json json_out() const;
  /// stderr split into lines.
  [[nodiscard]] std::vector<std::string> err_lines() const;
  /// For INFO(): the exit code and both streams.
  [[nodiscard]] std::string describe() const;
};

/// A command started in the background; its output goes to files. The
/// destructor kills it if it is still running.
class Process {
 public:
  Process(pid_t pid, std::filesystem::path out, std::filesystem::path err);
  ~Process();
  Process(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  void signal(int sig) const;
  /// Wait for the exit code; fails the test (and kills the process) after `timeout`.
  int wait(std::chrono::milliseconds timeout = 60s);
  [[nodiscard]] std::string out() const;
  [[nodiscard]] std::string err() const;

 private:
  pid_t pid_{-1};
  bool reaped_{false};
  std::filesystem::path out_, err_;
};

/// A fresh temporary folder (the commands' working directory), removed
/// afterwards, and a fresh database: a SQLite file in the folder, or (with
/// TASKER_TEST_BACKEND=postgres) a new schema on the test server. Commands run
/// with TASKER_ENV=test and none of the caller's TASKER_* or DATABASE_URL variables.
class Sandbox {
 public:
  Sandbox();
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  /// `sqlite:///<dir>/tasker.db`, or `postgresql://...?schema=cli_...`
  [[nodiscard]] const std::string& db() const { return db_; }
  [[nodiscard]] bool postgres() const { return db_.rfind("postgresql://", 0) == 0; }

  /// Run `tasker args...` to completion (failing the test after `timeout`).
  Result tasker(const std::vector<std::string>& args, const std::string& stdin_text = "",
                std::chrono::milliseconds timeout = 90s) const;
  /// Run `tasker args...` to completion with stdout on a pseudo-terminal of
  /// `columns` x `rows` (stderr stays a pipe), as a person at a terminal runs it.
  /// The terminal turns each "\n" into "\r\n".
  Result tasker_on_terminal(const std::vector<std::string>& args, int columns = 100, int rows = 30,
                            std::chrono::milliseconds timeout = 90s) const;
  /// Start `tasker args...` in the background.
  [[nodiscard]] Process start(const std::vector<std::string>& args) const;

  /// Write `text` to `name` in the sandbox; returns its path.
  std::filesystem::path write(const std::string& name, const std::string& text) const;

  /// Create the database (tasker migrate), so commands that need one find it.
  void migrate() const;
  /// `@FILE` of the example's context with payment token `token` (tok_declined, tok_flaky, ...).
  [[nodiscard]] std::string example_context(const std::string& token) const;
  /// Submit the example workflow (no worker runs it); returns the uuid.
  std::string submit_example(const std::vector<std::string>& extra = {}) const;
  /// The tasks in the database (tasker list --json).
  [[nodiscard]] json tasks() const;
  /// tasker status UUID --json
  [[nodiscard]] json status(const std::string& uuid) const;
  /// The step of `status` named `name`.
  [[nodiscard]] static json step_of(const json& status, const std::string& name);

 private:
  /// Run with `out` as the child's stdout and `reader` the end this process reads it from.
  Result run(const std::vector<std::string>& args, const std::string& stdin_text, std::chrono::milliseconds timeout,
             int out, int reader) const;

  std::filesystem::path dir_;
  std::string db_;
};

/// Poll `condition` until it holds or `timeout` passes. Every
/// timeout of these helpers is multiplied by TASKER_TEST_TIMEOUT_SCALE
/// (tasker::testing::scaled): they are limits against hangs.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 60s);

/// The first line of `text` containing `needle` ("" when none does).
std::string line_with(const std::string& text, const std::string& needle);

/// Checks that a failure printed exactly one line, `tasker: ...`, containing every one of
/// `needles`.
void check_one_line_error(const Result& r, int exit_code, const std::vector<std::string>& needles);

}  // namespace cli_test
