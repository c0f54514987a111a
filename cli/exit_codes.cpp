#include "exit_codes.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace tasker::cli {

namespace {
// Messages from databases and the OS may span lines; the CLI promises one.
std::string one_line(std::string_view text) {
  std::string out;
  bool gap = false;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      gap = true;
      continue;
    }
    if (gap && !out.empty()) out += out.back() == '.' || out.back() == ';' || out.back() == ':' ? " " : "; ";
    gap = false;
    out += c;
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  return out;
}
}  // namespace

int report_current_exception(const CLI::App& app) {
  auto print = [](const char* message) { fmt::print(stderr, "tasker: error: {}\n", one_line(message)); };
  try {
    throw;
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kOk : kUsage;
  } catch (const TemplateError& e) {
    // One line per problem, compiler-style, so editors can jump to it.
    for (const auto& d : e.diagnostics()) fmt::print(stderr, "tasker: {}\n", one_line(d.to_string()));
    if (e.diagnostics().empty()) print(e.what());
    return kInvalid;
  } catch (const UsageError& e) {
    print(e.what());
    return kUsage;
  } catch (const TaskFailedError& e) {
    print(e.what());
    return kTaskFailed;
  } catch (const InterruptedError& e) {
    print(e.what());
    return kInterrupted;
  } catch (const NotFoundError& e) {
    // The library speaks of its API; the CLI adds how to look with the CLI.
    const std::string what = e.what();
    const std::string joint = !what.empty() && what.back() == '?' ? " Or " : "; ";
    std::string hint;
    if (e.kind() == "task")
      hint = joint + "list tasks with `tasker list`";
    else if (e.kind() == "template")
      hint = joint + "list templates with `tasker templates`";
    else if (e.kind() == "database")
      hint = fmt::format("; a new database is created by `tasker migrate --db {}`", e.id());
    print((what + hint).c_str());
    return kNotFound;
  } catch (const HandlerNotFoundError& e) {
    print(e.what());
    return kInvalid;
  } catch (const ConfigurationError& e) {
    print(e.what());
    return kInvalid;
  } catch (const DuplicateTaskError& e) {
    print(e.what());
    return kInvalid;
  } catch (const InvalidRequestError& e) {
    print(e.what());
    return kInvalid;
  } catch (const std::exception& e) {
    print(e.what());
    return kFailure;
  }
}

}  // namespace tasker::cli
