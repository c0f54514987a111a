#include "support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/child.hpp"
#include "tasker/task.hpp"
#include "tasker/testing.hpp"

extern char** environ;

namespace cli_test {

namespace fs = std::filesystem;

fs::path source_dir() { return TASKER_SOURCE_DIR; }
fs::path example_dir() { return source_dir() / "examples" / "command_handlers"; }

json Result::json_out() const {
  json parsed = json::parse(out, nullptr, false);
  INFO(describe());
  REQUIRE_FALSE(parsed.is_discarded());
  return parsed;
}

std::vector<std::string> Result::err_lines() const {
  std::vector<std::string> lines;
  std::stringstream in(err);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string Result::describe() const {
  return "exit code " + std::to_string(exit_code) + "\n--- stdout:\n" + out + "--- stderr:\n" + err;
}

namespace {

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// The environment of every command: the test's own, minus whatever could
// point tasker elsewhere, plus the test environment (short backoffs).
std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    if (entry.rfind("TASKER_", 0) == 0 || entry.rfind("DATABASE_URL=", 0) == 0) continue;
    env.emplace_back(entry);
  }
  env.emplace_back("TASKER_ENV=test");
  return env;
}

// posix_spawn `tasker args...` in `dir` with the given descriptors as stdin/stdout/stderr.
pid_t spawn_tasker(const fs::path& dir, const std::vector<std::string>& args, int in, int out, int err) {
  std::vector<std::string> argv_storage{TASKER_CLI_PATH};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage = child_environment();
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err, STDERR_FILENO);
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE_MESSAGE(rc == 0, "cannot start " << TASKER_CLI_PATH << ": " << std::strerror(rc));
  return pid;
}

}  // namespace

// --- Process ----------------------------------------------------------------

Process::Process(pid_t pid, fs::path out, fs::path err) : pid_(pid), out_(std::move(out)), err_(std::move(err)) {}

Process::Process(Process&& other) noexcept
    : pid_(other.pid_), reaped_(other.reaped_), out_(std::move(other.out_)), err_(std::move(other.err_)) {
  other.reaped_ = true;
}

Process::~Process() {
  if (reaped_ || pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
}

void Process::signal(int sig) const { ::kill(pid_, sig); }

int Process::wait(std::chrono::milliseconds timeout) {
  int status = 0;
  timeout = tasker::testing::scaled(timeout);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      reaped_ = true;
      FAIL("the process did not exit within " << timeout.count() << " ms\n--- stdout:\n"
                                              << out() << "--- stderr:\n"
                                              << err());
    }
    std::this_thread::sleep_for(20ms);
  }
  reaped_ = true;
  return exit_code_of(status);
}

std::string Process::out() const { return slurp(out_); }
std::string Process::err() const { return slurp(err_); }

// --- Sandbox ----------------------------------------------------------------

Sandbox::Sandbox() {
  std::string pattern = (fs::temp_directory_path() / "tasker-cli-test-XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  dir_ = pattern;
  if (tasker::testing::backend_from_environment() == tasker::testing::Backend::sqlite) {
    db_ = "sqlite://" + (dir_ / "tasker.db").string();
    return;
  }
  const std::string server = tasker::testing::postgres_url_from_environment();
  REQUIRE_MESSAGE(!server.empty(), "the postgres backend needs TASKER_TEST_DATABASE_URL(_FILE)");
  std::string id = tasker::new_uuid();
  db_ =
      server + (server.find('?') == std::string::npos ? "?" : "&") + "schema=cli_" + id.substr(0, 8) + id.substr(9, 4);
}

Sandbox::~Sandbox() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

Result Sandbox::tasker(const std::vector<std::string>& args, const std::string& stdin_text,
                       std::chrono::milliseconds timeout) const {
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  return run(args, stdin_text, timeout, out[1], out[0]);
}

Result Sandbox::tasker_on_terminal(const std::vector<std::string>& args, int columns, int rows,
                                   std::chrono::milliseconds timeout) const {
  winsize size{};
  size.ws_col = static_cast<unsigned short>(columns);
  size.ws_row = static_cast<unsigned short>(rows);
  int master = -1, slave = -1;
  REQUIRE_MESSAGE(::openpty(&master, &slave, nullptr, nullptr, &size) == 0,
                  "cannot open a pseudo-terminal: " << std::strerror(errno));
  REQUIRE(::fcntl(master, F_SETFD, FD_CLOEXEC) == 0);
  REQUIRE(::fcntl(slave, F_SETFD, FD_CLOEXEC) == 0);
  return run(args, "", timeout, slave, master);
}

Result Sandbox::run(const std::vector<std::string>& args, const std::string& stdin_text,
                    std::chrono::milliseconds timeout, int out_writer, int out_reader) const {
  int in[2], err[2];
  REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
  pid_t pid = spawn_tasker(dir_, args, in[0], out_writer, err[1]);
  ::close(in[0]);
  ::close(out_writer);  // from here the child holds the only writing end: EOF (or EIO on a pty) when it exits
  ::close(err[1]);
  // Small inputs fit the pipe's buffer: write them all, then close.
  if (!stdin_text.empty())
    REQUIRE(::write(in[1], stdin_text.data(), stdin_text.size()) == static_cast<ssize_t>(stdin_text.size()));
  ::close(in[1]);

  Result result;
  timeout = tasker::testing::scaled(timeout);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::array<pollfd, 2> fds{pollfd{out_reader, POLLIN, 0}, pollfd{err[0], POLLIN, 0}};
  std::array<char, 65536> buffer{};
  int open_streams = 2;
  bool timed_out = false;
  while (open_streams > 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    if (::poll(fds.data(), fds.size(), 100) < 0) continue;
    for (auto& p : fds) {
      if (p.fd < 0 || !p.revents) continue;
      ssize_t n = ::read(p.fd, buffer.data(), buffer.size());
      if (n <= 0) {
        ::close(p.fd);
        p.fd = -1;
        --open_streams;
        continue;
      }
      (p.fd == out_reader ? result.out : result.err).append(buffer.data(), static_cast<std::size_t>(n));
    }
  }
  for (auto& p : fds)
    if (p.fd >= 0) ::close(p.fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = exit_code_of(status);
  if (timed_out) {
    std::string command;
    for (const auto& a : args) command += " " + a;
    FAIL("`tasker" << command << "` did not finish within " << timeout.count() << " ms\n" << result.describe());
  }
  return result;
}

Process Sandbox::start(const std::vector<std::string>& args) const {
  static int counter = 0;
  const std::string stem = "background-" + std::to_string(++counter);
  fs::path out_path = dir_ / (stem + ".out"), err_path = dir_ / (stem + ".err");
  int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE((in >= 0 && out >= 0 && err >= 0));
  pid_t pid = spawn_tasker(dir_, args, in, out, err);
  ::close(in);
  ::close(out);
  ::close(err);
  return Process(pid, out_path, err_path);
}

fs::path Sandbox::write(const std::string& name, const std::string& text) const {
  fs::path path = dir_ / name;
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
  return path;
}

void Sandbox::migrate() const {
  Result r = tasker({"migrate", "--db", db_});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
}

std::string Sandbox::example_context(const std::string& token) const {
  json context = json::parse(std::ifstream(example_dir() / "context.json"));
  context["payment_info"]["token"] = token;
  return "@" + write(token + ".json", context.dump()).string();
}

std::string Sandbox::submit_example(const std::vector<std::string>& extra) const {
  std::vector<std::string> args{
      "submit",    "ecommerce_commands/order_processing",           "--templates", example_dir().string(),
      "--context", "@" + (example_dir() / "context.json").string(), "--db",        db_};
  args.insert(args.end(), extra.begin(), extra.end());
  Result r = tasker(args);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  std::string uuid = r.out.substr(0, r.out.find('\n'));
  REQUIRE(uuid.size() == 36);
  return uuid;
}

json Sandbox::tasks() const {
  Result r = tasker({"list", "--json", "--db", db_});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  return r.json_out().at("tasks");
}

json Sandbox::status(const std::string& uuid) const {
  Result r = tasker({"status", uuid, "--json", "--db", db_});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  return r.json_out();
}

json Sandbox::step_of(const json& status, const std::string& name) {
  for (const auto& s : status.at("steps"))
    if (s.at("name") == name) return s;
  FAIL("no step " << name << " in " << status.dump(2));
  return {};
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  return test_support::eventually(condition, timeout);
}

std::string line_with(const std::string& text, const std::string& needle) {
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) return line;
  return "";
}

void check_one_line_error(const Result& r, int exit_code, const std::vector<std::string>& needles) {
  INFO(r.describe());
  CHECK(r.exit_code == exit_code);
  auto lines = r.err_lines();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("tasker: ", 0) == 0);
  for (const auto& n : needles) CHECK_MESSAGE(lines[0].find(n) != std::string::npos, "expected `" << n << "`");
}

}  // namespace cli_test
