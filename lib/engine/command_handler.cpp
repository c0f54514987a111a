// Running a command per attempt: under a supervisor in a new process group
// that dies with the worker (engine/supervised_process.cpp), the step input
// written to stdin while stdout and stderr are drained (so neither side can
// block the other), and the group terminated on timeout or cancel.
#include "tasker/command_handler.hpp"
#include "engine/command_spec.hpp"
#include "engine/job.hpp"
#include "engine/pipes.hpp"
#include "engine/process_pool.hpp"
#include "engine/supervised_process.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

#include "engine/command_output.hpp"
#include "engine/command_requests.hpp"
#include "tasker/errors.hpp"
#include "tasker/task.hpp"

namespace tasker {

namespace {

std::string joined(const std::vector<std::string>& argv) { return fmt::format("{}", fmt::join(argv, " ")); }
}  // namespace

using detail::fail_with;

std::string CommandSpec::display() const { return shell ? "sh -c '" + joined(argv) + "'" : joined(argv); }

bool command_exists(const std::string& program) {
  if (program.empty()) return false;
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  for (const auto& candidate : detail::exec_candidates(program)) {
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return true;
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

namespace detail {

std::vector<std::string> command_argv(const CommandSpec& spec) {
  if (spec.shell) return {"/bin/sh", "-c", joined(spec.argv)};
  return spec.argv;
}

std::string not_started_message(const CommandSpec& spec, const detail::StartFailure& failure) {
  switch (failure.stage) {
    case detail::StartFailure::Stage::working_directory:
      return fmt::format(
          "cannot start `{}`: its working directory {} cannot be entered: {}; check that the folder "
          "exists and the worker may enter it",
          spec.display(), spec.working_directory.string(), std::strerror(failure.error));
    case detail::StartFailure::Stage::fork:
      return fmt::format(
          "cannot start `{}`: no process could be created: {}; the worker's machine is short of "
          "processes, memory or file descriptors",
          spec.display(), std::strerror(failure.error));
    case detail::StartFailure::Stage::exec: break;
  }
  return fmt::format("cannot start `{}`: {}; check handler.command and PATH", spec.display(),
                     std::strerror(failure.error));
}

}  // namespace detail

namespace {

detail::CommandExit run_process(const CommandSpec& spec, const std::string& input, StepContext& ctx,
                                const Clock& clock) {
  detail::SigpipeBlock no_sigpipe;
  const std::vector<std::string> args = detail::command_argv(spec);
  std::map<std::string, std::string> extra = spec.environment;
  if (!spec.callable.empty()) extra["TASKER_CALLABLE"] = spec.callable;
  extra["TASKER_TASK_UUID"] = ctx.task_uuid();
  extra["TASKER_STEP_NAME"] = ctx.step_name();
  extra["TASKER_ATTEMPT"] = std::to_string(ctx.attempt());
  // The request channel (docs/handlers.md, "Asking the worker"): the command
  // writes requests to descriptor 3 and reads each answer from descriptor 4.
  extra["TASKER_REQUEST_FD"] = "3";
  extra["TASKER_REPLY_FD"] = "4";
  const std::vector<std::string> env_storage = detail::command_environment(extra);

  detail::Pipe in, out, err, requests, replies;
  detail::SupervisedProcess process(args, env_storage, spec.working_directory,
                                    {in.read, out.write, err.write, {requests.write, replies.read}});
  if (const auto& failure = process.failure())
    fail_with<RetryableError>("command_not_started", detail::not_started_message(spec, *failure),
                              {{"command", spec.display()}});
  in.close_read();
  out.close_write();
  err.close_write();
  requests.close_write();
  replies.close_read();
  fcntl(in.write, F_SETFL, O_NONBLOCK);
  fcntl(replies.write, F_SETFL, O_NONBLOCK);
  detail::CommandRequests channel(ctx, spec.limits);
  detail::Outbox answers;

  detail::CommandExit f;
  f.deadline = ctx.deadline();
  std::size_t written = 0;
  if (input.empty()) in.close_write();
  std::optional<std::chrono::steady_clock::time_point> kill_at;
  const auto deadline = ctx.deadline();
  std::array<char, 65536> buffer{};
  while (out.read >= 0 || err.read >= 0) {
    if (!kill_at && (ctx.cancelled() || clock.now() >= deadline)) {
      f.cancelled = ctx.cancelled();
      f.killed_for_time = !f.cancelled;
      process.signal_group(SIGTERM);
      kill_at = std::chrono::steady_clock::now() + spec.kill_grace;
    }
    if (kill_at && std::chrono::steady_clock::now() >= *kill_at) {
      process.signal_group(SIGKILL);
      break;  // a process that ignores SIGTERM may also keep the pipes open through children
    }
    std::vector<pollfd> fds;
    if (in.write >= 0) fds.push_back({in.write, POLLOUT, 0});
    if (out.read >= 0) fds.push_back({out.read, POLLIN, 0});
    if (err.read >= 0) fds.push_back({err.read, POLLIN, 0});
    if (requests.read >= 0) fds.push_back({requests.read, POLLIN, 0});
    if (replies.write >= 0 && !answers.empty()) fds.push_back({replies.write, POLLOUT, 0});
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
      if (p.fd == replies.write) {
        answers.flush(replies);
        continue;
      }
      if (p.fd == requests.read) {
        const ssize_t n = ::read(requests.read, buffer.data(), buffer.size());
        if (n <= 0) {
          requests.close_read();
          continue;
        }
        answers.add(channel.feed({buffer.data(), static_cast<std::size_t>(n)}));
        answers.flush(replies);
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
        if (!kill_at) process.signal_group(SIGKILL), kill_at = std::chrono::steady_clock::now();
        continue;
      }
      sink.append(buffer.data(), static_cast<std::size_t>(n));
    }
  }
  in.close_write();
  f.status = process.wait();  // it also kills anything the command left behind in its group
  return f;
}

}  // namespace

StepHandler make_command_handler(CommandSpec spec) {
  if (spec.argv.empty()) throw InvalidRequestError("a command handler needs a program to run");
  if (spec.persistent) {
    if (spec.callable.empty())
      throw InvalidRequestError(fmt::format(
          "the persistent command `{}` needs CommandSpec::callable: it is sent with each attempt", spec.display()));
    return [pool = detail::ProcessPool::shared_for(spec), callable = spec.callable](StepContext& ctx) -> json {
      return pool->run(ctx, callable);
    };
  }
  return [spec = std::move(spec)](StepContext& ctx) -> json {
    const Clock& clock = ctx.clock();
    return detail::command_result(spec, run_process(spec, command_input(ctx).dump(), ctx, clock));
  };
}

std::vector<std::string> register_command_handlers(HandlerRegistry& registry, const TemplateSet& templates,
                                                   const JsonLimits& limits) {
  std::map<std::string, std::pair<CommandSpec, SourceLocation>> specs;
  std::vector<Diagnostic> problems;
  for (const TaskTemplate* t : templates.all()) {
    std::filesystem::path folder = std::filesystem::path(t->location.file).parent_path();
    for (const auto& step : t->steps) {
      if (step.handler.command.empty()) continue;
      CommandSpec spec;
      spec.argv = step.handler.command;
      spec.shell = step.handler.shell;
      spec.persistent = step.handler.persistent;
      spec.callable = step.handler.callable;
      spec.limits = limits;
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
      if (!inserted && (it->second.first.argv != spec.argv || it->second.first.shell != spec.shell ||
                        it->second.first.persistent != spec.persistent))
        problems.push_back({Severity::error, step.location, step.name,
                            fmt::format("callable `{}` is given two different commands{}", step.handler.callable,
                                        it->second.first.argv == spec.argv && it->second.first.shell == spec.shell
                                            ? " (one persistent, one not)"
                                            : ""),
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
