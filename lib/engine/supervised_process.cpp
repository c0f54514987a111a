// A command's process group must die with the worker that started it, by any
// death (SIGKILL included): otherwise a step whose lease is reclaimed runs
// twice at once, the dead worker's attempt unsupervised past its timeout.
//
// How: per attempt the worker forks a supervisor, which leads a new process
// group, forks and execs the command in it, and then waits for two things at
// once: the command's exit (SIGCHLD, read from a signalfd) and EOF on a
// "lifeline" pipe whose write end only the worker holds. The kernel closes that
// end when the worker dies, however it dies; the supervisor then kills its
// group, itself included, with SIGKILL. Otherwise it exits with the command's
// status, raising a terminating signal again, so the worker sees what waiting
// for the command would have shown.
//
// Why not simpler means:
//  - PR_SET_PDEATHSIG reaches only the direct child (not what a shell script
//    starts) and fires when the *thread* that forked exits, not the process.
//  - A subreaper or cgroup needs privileges or a cooperating service manager.
//  - A separate supervisor executable would have to be found at run time by
//    every host program that links the library.
//
// Rules the code follows:
//  - Between fork and exec only async-signal-safe system calls run (the caller
//    is multi-threaded): argv, envp and the PATH candidates are built before
//    fork; nothing allocates afterwards.
//  - The supervisor closes every inherited descriptor right after fork
//    (close_range): a supervisor forked concurrently by another thread would
//    otherwise hold this attempt's lifeline open and the death go unnoticed.
//  - It blocks every signal: a SIGTERM to the group (timeout, cancel) must end
//    the command, not the supervisor before it can report the command's end.
//  - An exec failure (ENOENT, EACCES, a bad working directory) reaches the
//    supervisor through a close-on-exec pipe, and the supervisor always sends
//    the caller one report (started, or why not), so the caller never waits
//    on a pipe that a process forked by another thread might hold open.
// A host that forks without exec while attempts run keeps lifelines open in
// that child: its supervisors then notice the worker's death only when that
// child exits too.
#include "engine/supervised_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>

namespace tasker::detail {

namespace {

// Descriptor numbers in the supervisor: 0-2 are the command's stdio, then the
// descriptors passed on to the command (Io::passed) from 3, then the lifeline
// and the report pipe, which the command does not inherit.
struct Layout {
  int passed;  ///< how many descriptors the command gets beyond its stdio
  [[nodiscard]] int lifeline() const { return 3 + passed; }
  [[nodiscard]] int report() const { return 4 + passed; }
  [[nodiscard]] int first_free() const { return 5 + passed; }
};

/// What the supervisor tells the caller once the command was executed (or not).
struct Report {
  int stage;  ///< kStarted, or a StartFailure::Stage
  int error;
};
constexpr int kStarted = -1;

/// Reads one Report from `fd`; leaves `r` as it was on EOF.
void read_report(int fd, Report& r) {
  Report got{};
  std::size_t n = 0;
  while (n < sizeof got) {
    const ssize_t k = ::read(fd, reinterpret_cast<char*>(&got) + n, sizeof got - n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return;
    n += static_cast<std::size_t>(k);
  }
  r = got;
}

/// Everything the child processes need, prepared before fork.
struct Prepared {
  std::vector<char*> argv, envp;
  std::vector<std::string> candidates;  ///< the paths to try exec on, in order
  std::vector<const char*> candidate_ptrs;
  std::string working_directory;
  int fd_limit{1024};  ///< for closing descriptors where close_range is missing
};

// ---- after fork: async-signal-safe calls only ----------------------------

[[noreturn]] void report_and_exit(int fd, StartFailure::Stage stage, int error) {
  const Report r{static_cast<int>(stage), error};
  while (::write(fd, &r, sizeof r) < 0 && errno == EINTR) {
  }
  ::_exit(127);
}

void close_from(int first, int limit) {
  if (::close_range(static_cast<unsigned>(first), ~0U, 0) == 0) return;
  for (int fd = first; fd < limit; ++fd) ::close(fd);  // kernels before 5.9
}

/// In the command's process: a fresh process's signal state, then exec. A
/// failure goes to `failed` (close-on-exec, so a successful exec closes it).
[[noreturn]] void exec_command(const Prepared& p, Layout layout, int failed) {
  ::close(layout.lifeline());
  ::close(layout.report());
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);  // fails harmlessly for reserved ones
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (!p.working_directory.empty() && ::chdir(p.working_directory.c_str()) != 0)
    report_and_exit(failed, StartFailure::Stage::working_directory, errno);
  // execvp's search: a candidate that is missing or not accessible lets the
  // search go on (EACCES is remembered); any other error ends it.
  int error = ENOENT;
  for (const char* candidate : p.candidate_ptrs) {
    ::execve(candidate, p.argv.data(), p.envp.data());
    if (errno == EACCES) {
      error = EACCES;
    } else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ELOOP && errno != ENAMETOOLONG) {
      error = errno;
      break;
    }
  }
  report_and_exit(failed, StartFailure::Stage::exec, error);
}

/// Exit as the command did: its exit code, or its terminating signal.
[[noreturn]] void exit_like(int status) {
  if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
  const int sig = WTERMSIG(status);
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);  // the command dumped its core already, if any
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(sig, &dfl, nullptr);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, sig);
  ::kill(::getpid(), sig);
  ::sigprocmask(SIG_UNBLOCK, &only, nullptr);  // delivered here
  ::_exit(128 + sig);
}

[[noreturn]] void supervise(const Prepared& p, const SupervisedProcess::Io& io, int lifeline, int report) {
  ::setpgid(0, 0);  // the caller does it too: whichever runs first
  sigset_t all;
  sigfillset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGCHLD, &dfl, nullptr);  // an ignored SIGCHLD would reap the command behind our back

  // Move the descriptors above every one of them, then down to 0..n, so no
  // dup2 overwrites a descriptor still to be moved; then close all the rest.
  const Layout layout{static_cast<int>(io.passed.size())};
  int wanted[SupervisedProcess::kMaxPassed + 5];
  int count = 0, base = layout.first_free() - 1;
  for (int fd : {io.in, io.out, io.err}) wanted[count++] = fd;
  for (int fd : io.passed) wanted[count++] = fd;
  wanted[count++] = lifeline;
  wanted[count++] = report;
  for (int i = 0; i < count; ++i) base = std::max(base, wanted[i]);
  ++base;
  int moved[SupervisedProcess::kMaxPassed + 5];
  for (int i = 0; i < count; ++i)
    if ((moved[i] = ::fcntl(wanted[i], F_DUPFD, base)) < 0) report_and_exit(report, StartFailure::Stage::fork, errno);
  for (int i = 0; i < count; ++i)
    if (::dup2(moved[i], i) < 0) report_and_exit(moved[count - 1], StartFailure::Stage::fork, errno);
  close_from(layout.first_free(), std::max(p.fd_limit, base + count));
  const int report_fd = layout.report();

  // The command reports an exec failure on a pipe of the supervisor's own: no
  // other process can hold it open, so its EOF surely means the exec happened.
  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) report_and_exit(report_fd, StartFailure::Stage::fork, errno);
  sigset_t child;
  sigemptyset(&child);
  sigaddset(&child, SIGCHLD);
  const int signal_fd = ::signalfd(-1, &child, SFD_CLOEXEC);
  if (signal_fd < 0) report_and_exit(report_fd, StartFailure::Stage::fork, errno);
  const pid_t command = ::fork();
  if (command < 0) report_and_exit(report_fd, StartFailure::Stage::fork, errno);
  if (command == 0) exec_command(p, layout, exec_pipe[1]);

  // Only the command keeps its stdio and the passed descriptors: the caller
  // sees EOF on them when it ends.
  for (int fd = 0; fd < 3 + layout.passed; ++fd) ::close(fd);
  ::close(exec_pipe[1]);
  Report r{kStarted, 0};
  read_report(exec_pipe[0], r);
  ::close(exec_pipe[0]);
  while (::write(report_fd, &r, sizeof r) < 0 && errno == EINTR) {
  }
  ::close(report_fd);
  pollfd fds[2] = {{layout.lifeline(), POLLIN, 0}, {signal_fd, POLLIN, 0}};
  for (;;) {
    int status = 0;
    if (::waitpid(command, &status, WNOHANG) == command) exit_like(status);
    if (::poll(fds, 2, -1) < 0) continue;  // EINTR
    if (fds[0].revents) {                  // EOF: the worker is gone
      ::kill(0, SIGKILL);
      ::_exit(137);
    }
    if (fds[1].revents) {
      signalfd_siginfo info;
      while (::read(signal_fd, &info, sizeof info) < 0 && errno == EINTR) {
      }
    }
  }
}

}  // namespace

SupervisedProcess::SupervisedProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                                     const std::filesystem::path& working_directory, const Io& io) {
  if (io.passed.size() > kMaxPassed)
    throw std::invalid_argument("SupervisedProcess: at most kMaxPassed descriptors are passed to a command");
  Prepared p;
  std::vector<std::string> args = argv, environment = env;
  for (auto& a : args) p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  for (auto& e : environment) p.envp.push_back(e.data());
  p.envp.push_back(nullptr);
  p.candidates = exec_candidates(args.at(0));
  for (const auto& c : p.candidates) p.candidate_ptrs.push_back(c.c_str());
  p.working_directory = working_directory.string();
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY)
    p.fd_limit = static_cast<int>(std::min<rlim_t>(files.rlim_cur, 1 << 20));

  int life[2], report[2];
  if (::pipe2(life, O_CLOEXEC) != 0) {
    failure_ = StartFailure{StartFailure::Stage::fork, errno};
    return;
  }
  if (::pipe2(report, O_CLOEXEC) != 0) {
    failure_ = StartFailure{StartFailure::Stage::fork, errno};
    ::close(life[0]);
    ::close(life[1]);
    return;
  }
  const pid_t pid = ::fork();
  if (pid == 0) supervise(p, io, life[0], report[1]);
  const int fork_error = errno;
  ::close(life[0]);
  ::close(report[1]);
  lifeline_ = life[1];
  if (pid < 0) {
    ::close(report[0]);
    failure_ = StartFailure{StartFailure::Stage::fork, fork_error};
    return;
  }
  supervisor_ = pid;
  ::setpgid(pid, pid);  // before any signal_group(): the child may not have run yet

  // One report always comes, unless the supervisor was killed before it could
  // send it; then wait() shows how it ended.
  Report r{kStarted, 0};
  read_report(report[0], r);
  ::close(report[0]);
  if (r.stage != kStarted) {
    failure_ = StartFailure{static_cast<StartFailure::Stage>(r.stage), r.error};
    wait();
  }
}

SupervisedProcess::~SupervisedProcess() {
  if (supervisor_ > 0 && !reaped_) {
    signal_group(SIGKILL);
    int status = 0;
    while (::waitpid(supervisor_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (lifeline_ >= 0) ::close(lifeline_);
}

void SupervisedProcess::signal_group(int sig) const {
  if (supervisor_ > 0) ::kill(-supervisor_, sig);
}

int SupervisedProcess::wait() {
  int status = 0;
  if (supervisor_ <= 0 || reaped_) return status;
  while (::waitpid(supervisor_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  // Anything the command left behind in its group (the group outlives its
  // leader while members remain, so its id is not reused before then).
  ::kill(-supervisor_, SIGKILL);
  return status;
}

std::vector<std::string> exec_candidates(const std::string& program) {
  if (program.find('/') != std::string::npos) return {program};
  const char* path = std::getenv("PATH");
  const std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = dirs.find(':', start);
    const std::string dir = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    out.push_back((dir.empty() ? "." : dir) + "/" + program);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

}  // namespace tasker::detail
