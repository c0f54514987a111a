#include "common/processes.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>

namespace test_support {

namespace {

struct Stat {
  char state{0};
  pid_t parent{0}, group{0};
  unsigned long long start_time{0};
};

/// The whole of a small /proc file; nullopt when the process is gone (reading
/// one that exits meanwhile fails with ESRCH, which iostreams would throw).
std::optional<std::string> read_proc_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<std::size_t>(n));
  ::close(fd);
  if (n < 0) return std::nullopt;
  return text;
}

/// /proc/PID/stat: `pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
/// stime cutime cstime priority nice threads itrealvalue starttime ...`; comm may hold spaces and parentheses.
std::optional<Stat> read_stat(pid_t pid) {
  const auto text = read_proc_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return std::nullopt;
  const std::string& line = *text;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 1));
  Stat s;
  std::string skip;
  long ppid = 0, group = 0;
  fields >> s.state >> ppid >> group;
  for (int i = 0; i < 16; ++i) fields >> skip;  // fields 6 (session) to 21 (itrealvalue)
  fields >> s.start_time;
  if (!fields) return std::nullopt;
  s.parent = static_cast<pid_t>(ppid);
  s.group = static_cast<pid_t>(group);
  return s;
}

bool running(const Stat& s) { return s.state != 'Z' && s.state != 'X' && s.state != 'x'; }

}  // namespace

std::optional<ProcessRef> find_process(pid_t pid) {
  auto s = read_stat(pid);
  if (!s || !running(*s)) return std::nullopt;
  return ProcessRef{pid, s->start_time};
}

bool alive(const ProcessRef& process) {
  auto s = read_stat(process.pid);
  return s && running(*s) && s->start_time == process.start_time;
}

std::vector<ProcessInfo> running_processes() {
  std::vector<ProcessInfo> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::atol(name.c_str()));
    auto s = read_stat(pid);
    if (!s || !running(*s)) continue;
    auto command_line = read_proc_file((entry.path() / "cmdline").string());
    if (!command_line) continue;
    std::replace(command_line->begin(), command_line->end(), '\0', ' ');
    out.push_back({pid, s->parent, s->group, std::move(*command_line)});
  }
  return out;
}

}  // namespace test_support
