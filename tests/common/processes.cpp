#include "common/processes.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace test_support {

namespace {

struct Stat {
  char state{0};
  pid_t group{0};
  unsigned long long start_time{0};
};

/// /proc/PID/stat: `pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
/// stime cutime cstime priority nice threads itrealvalue starttime ...`; comm may hold spaces and parentheses.
std::optional<Stat> read_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
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

std::vector<pid_t> group_members(pid_t group) {
  std::vector<pid_t> members;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::atol(name.c_str()));
    if (auto s = read_stat(pid); s && running(*s) && s->group == group) members.push_back(pid);
  }
  return members;
}

}  // namespace test_support
