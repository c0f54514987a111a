// Running a command per attempt: posix_spawn into a new process group, the
// step input written to stdin while stdout and stderr are drained (so neither
// side can block the other), and the group terminated on timeout or cancel.
#include "tasker/command_handler.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

#include "tasker/errors.hpp"
#include "tasker/task.hpp"

extern char** environ;

namespace tasker {

namespace {

using std::chrono::milliseconds;

struct Pipe {
  int read{-1}, write{-1};
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw Error(fmt::format("pipe() failed: {}", std::strerror(errno)));
    read = fds[0];
    write = fds[1];
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  void close_read() {
    if (read >= 0) ::close(read), read = -1;
  }
  void close_write() {
    if (write >= 0) ::close(write), write = -1;
  }
};

std::string tail(const std::string& text, std::size_t n) {
  std::string t = text.size() > n ? "..." + text.substr(text.size() - n) : text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t;
}

struct Finished {
  int status{0};
  bool killed_for_time{false};
  bool cancelled{false};
  std::string out, err;
  bool output_too_large{false};
};

}  // namespace

namespace {
std::string joined(const std::vector<std::string>& argv) { return fmt::format("{}", fmt::join(argv, " ")); }

template <typename E>
[[noreturn]] void fail_with(std::string type, const std::string& message, json context,
                            std::optional<std::chrono::milliseconds> retry_after = std::nullopt) {
  if constexpr (std::is_same_v<E, RetryableError>) {
    RetryableError e(message, retry_after, std::move(context));
    e.set_error_type(std::move(type));
    throw e;
  } else {
    PermanentError e(message, std::move(context));
    e.set_error_type(std::move(type));
    throw e;
  }
}
}  // namespace

std::string CommandSpec::display() const { return shell ? "sh -c '" + joined(argv) + "'" : joined(argv); }

bool command_exists(const std::string& program) {
  if (program.empty()) return false;
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    std::string dir = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return true;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return false;
}

json command_input(const StepContext& ctx) {
  json input = {{"task_uuid", ctx.task_uuid()},
                {"step_name", ctx.step_name()},
                {"context", ctx.context()},
                {"initialization", ctx.initialization()},
                {"dependency_results", ctx.dependency_results()},
                {"attempt", ctx.attempt()},
                {"deadline", format_time(ctx.deadline())}};
  if (!ctx.checkpoint().is_null()) input["checkpoint"] = ctx.checkpoint();
  if (const auto& e = ctx.previous_error())
    input["previous_error"] = {
        {"message", e->message}, {"error_type", e->error_type}, {"retryable", e->retryable}, {"context", e->context}};
  return input;
}

namespace {

/// Blocks SIGPIPE in this thread while it lives: a command that exits without
/// reading its input must make write() fail with EPIPE, not kill the worker.
/// A library must not change the process-wide disposition, so only this
/// thread's mask changes, and a SIGPIPE left pending is consumed before restoring it.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &previous_);
  }
  ~SigpipeBlock() {
    timespec zero{0, 0};
    while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_{}, previous_{};
};

Finished run_process(const CommandSpec& spec, const std::string& input, const StepContext& ctx, const Clock& clock) {
  SigpipeBlock no_sigpipe;
  std::vector<std::string> args = spec.argv;
  if (spec.shell) args = {"/bin/sh", "-c", joined(spec.argv)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_storage;
  for (char** e = environ; *e; ++e) env_storage.emplace_back(*e);
  std::map<std::string, std::string> extra = spec.environment;
  extra["TASKER_TASK_UUID"] = ctx.task_uuid();
  extra["TASKER_STEP_NAME"] = ctx.step_name();
  extra["TASKER_ATTEMPT"] = std::to_string(ctx.attempt());
  for (const auto& [k, v] : extra) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  Pipe in, out, err;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out.write, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err.write, STDERR_FILENO);
  if (!spec.working_directory.empty()) posix_spawn_file_actions_addchdir_np(&actions, spec.working_directory.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: a timeout kills what it started too
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    fail_with<RetryableError>(
        "command_not_started",
        fmt::format("cannot start `{}`: {}; check handler.command and PATH", spec.display(), std::strerror(rc)),
        {{"command", spec.display()}});
  in.close_read();
  out.close_write();
  err.close_write();
  fcntl(in.write, F_SETFL, O_NONBLOCK);

  Finished f;
  std::size_t written = 0;
  if (input.empty()) in.close_write();
  std::optional<std::chrono::steady_clock::time_point> kill_at;
  const auto deadline = ctx.deadline();
  std::array<char, 65536> buffer{};
  while (out.read >= 0 || err.read >= 0) {
    if (!kill_at && (ctx.cancelled() || clock.now() >= deadline)) {
      f.cancelled = ctx.cancelled();
      f.killed_for_time = !f.cancelled;
      ::kill(-pid, SIGTERM);
      kill_at = std::chrono::steady_clock::now() + spec.kill_grace;
    }
    if (kill_at && std::chrono::steady_clock::now() >= *kill_at) {
      ::kill(-pid, SIGKILL);
      break;  // a process that ignores SIGTERM may also keep the pipes open through children
    }
    std::vector<pollfd> fds;
    if (in.write >= 0) fds.push_back({in.write, POLLOUT, 0});
    if (out.read >= 0) fds.push_back({out.read, POLLIN, 0});
    if (err.read >= 0) fds.push_back({err.read, POLLIN, 0});
    int ready = ::poll(fds.data(), fds.size(), 50);
    if (ready < 0 && errno != EINTR) break;
    for (const auto& p : fds) {
      if (!p.revents) continue;
      if (p.fd == in.write) {
        ssize_t n = ::write(in.write, input.data() + written, input.size() - written);
        if (n > 0) written += static_cast<std::size_t>(n);
        if (n < 0 && errno != EAGAIN) in.close_write();  // the command does not read its input: fine
        if (written == input.size()) in.close_write();
        continue;
      }
      bool is_out = p.fd == out.read;
      ssize_t n = ::read(p.fd, buffer.data(), buffer.size());
      if (n <= 0) {
        (is_out ? out : err).close_read();
        continue;
      }
      std::string& sink = is_out ? f.out : f.err;
      if (sink.size() + static_cast<std::size_t>(n) > spec.max_output_bytes) {
        f.output_too_large = true;
        if (!kill_at) ::kill(-pid, SIGKILL), kill_at = std::chrono::steady_clock::now();
        continue;
      }
      sink.append(buffer.data(), static_cast<std::size_t>(n));
    }
  }
  in.close_write();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::kill(-pid, SIGKILL);  // anything the command left behind in its group
  f.status = status;
  return f;
}

/// The optional {"message", "retry_after_ms", "context"} a failing command prints.
json failure_document(const std::string& out) {
  json doc = json::parse(out, nullptr, false);
  return doc.is_object() ? doc : json::object();
}

}  // namespace

StepHandler make_command_handler(CommandSpec spec) {
  if (spec.argv.empty()) throw InvalidRequestError("a command handler needs a program to run");
  return [spec = std::move(spec)](StepContext& ctx) -> json {
    const Clock& clock = ctx.clock();
    Finished f = run_process(spec, command_input(ctx).dump(), ctx, clock);
    const std::string stderr_tail = tail(f.err, 2000);
    json context = {{"command", spec.display()}};
    if (!stderr_tail.empty()) context["stderr"] = stderr_tail;
    auto with_stderr = [&](std::string message) {
      return stderr_tail.empty() ? message : message + "; stderr: " + tail(f.err, 300);
    };
    if (f.killed_for_time)
      fail_with<RetryableError>("timeout",
                                fmt::format("`{}` did not finish before the step's timeout; its process group was "
                                            "killed",
                                            spec.display()),
                                context);
    if (f.cancelled)
      fail_with<RetryableError>("cancelled", fmt::format("`{}` was stopped: the attempt was cancelled", spec.display()),
                                context);
    if (f.output_too_large)
      fail_with<PermanentError>("output_too_large",
                                fmt::format("`{}` wrote more than {} bytes; return large data by reference (a path "
                                            "or URL), not inline",
                                            spec.display(), spec.max_output_bytes),
                                context);
    if (WIFSIGNALED(f.status))
      fail_with<RetryableError>("command_crashed",
                                with_stderr(fmt::format("`{}` was killed by signal {} ({})", spec.display(),
                                                        WTERMSIG(f.status), strsignal(WTERMSIG(f.status)))),
                                context);
    const int code = WIFEXITED(f.status) ? WEXITSTATUS(f.status) : -1;
    if (code == 0) {
      std::string body = f.out;
      if (body.find_first_not_of(" \t\r\n") == std::string::npos) return nullptr;
      json result = json::parse(body, nullptr, false);
      if (result.is_discarded()) {
        context["stdout"] = tail(f.out, 500);
        fail_with<RetryableError>("invalid_output",
                                  with_stderr(fmt::format("`{}` exited 0 but its stdout is not JSON (it starts with "
                                                          "`{}`); print exactly one JSON document, logs go to stderr",
                                                          spec.display(), tail(f.out.substr(0, 60), 60))),
                                  context);
      }
      return result;
    }
    if (code == kCommandExitPermanent || code == kCommandExitRetryable) {
      json doc = failure_document(f.out);
      std::string message = doc.value("message", "");
      if (message.empty()) message = fmt::format("`{}` failed (exit {})", spec.display(), code);
      if (doc.contains("context") && doc["context"].is_object())
        for (auto& [k, v] : doc["context"].items()) context[k] = v;
      if (code == kCommandExitPermanent) throw PermanentError(message, context);
      std::optional<milliseconds> retry_after;
      if (doc.contains("retry_after_ms") && doc["retry_after_ms"].is_number())
        retry_after = milliseconds{doc["retry_after_ms"].get<long long>()};
      throw RetryableError(message, retry_after, context);
    }
    fail_with<RetryableError>("command_failed",
                              with_stderr(fmt::format("`{}` exited with code {} (10 means a permanent failure, 11 a "
                                                      "retryable one; anything else is treated as a crash)",
                                                      spec.display(), code)),
                              context);
  };
}

std::vector<std::string> register_command_handlers(HandlerRegistry& registry, const TemplateSet& templates) {
  std::map<std::string, std::pair<CommandSpec, SourceLocation>> specs;
  std::vector<Diagnostic> problems;
  for (const TaskTemplate* t : templates.all()) {
    std::filesystem::path folder = std::filesystem::path(t->location.file).parent_path();
    for (const auto& step : t->steps) {
      if (step.handler.command.empty()) continue;
      CommandSpec spec;
      spec.argv = step.handler.command;
      spec.shell = step.handler.shell;
      spec.working_directory = folder.empty() ? std::filesystem::current_path() : std::filesystem::absolute(folder);
      // A relative program (./x.py, handlers/x.sh) is relative to the template's folder.
      if (!spec.shell && spec.argv[0].find('/') != std::string::npos && spec.argv[0][0] != '/')
        spec.argv[0] = (spec.working_directory / spec.argv[0]).lexically_normal().string();
      if (!spec.shell && !command_exists(spec.argv[0]))
        problems.push_back({Severity::error, step.location, step.name,
                            fmt::format("the command of callable `{}` cannot be run: `{}` is not an executable file "
                                        "or a program on PATH",
                                        step.handler.callable, spec.argv[0]),
                            "install it, fix handler.command, or make the script executable (chmod +x)"});
      auto [it, inserted] = specs.emplace(step.handler.callable, std::make_pair(spec, step.location));
      if (!inserted && (it->second.first.argv != spec.argv || it->second.first.shell != spec.shell))
        problems.push_back({Severity::error, step.location, step.name,
                            fmt::format("callable `{}` is given two different commands", step.handler.callable),
                            fmt::format("the other is at {}:{}", it->second.second.file, it->second.second.line)});
    }
  }
  if (!problems.empty()) throw TemplateError(std::move(problems));
  std::vector<std::string> registered;
  for (auto& [callable, entry] : specs) {
    registry.add(callable, make_command_handler(std::move(entry.first)));
    registered.push_back(callable);
  }
  return registered;
}

}  // namespace tasker
