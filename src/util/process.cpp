// fork/exec with an error pipe so a failed exec is reported to the caller; pidfds for everything
// after that.
#include "util/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string_view>

#include "util/error.h"

extern char** environ;

namespace wgnet::process {

namespace {

// waitid() on a pidfd (Linux 5.4); glibc 2.36's <sys/wait.h> does not name it yet.
constexpr int kIdPidfd = 3;

// glibc 2.36's <sys/pidfd.h> declares these without C linkage for C++: call the kernel directly.
int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

std::string_view name_of(std::string_view kv) { return kv.substr(0, kv.find('=')); }

// The inherited environment with `overrides` replacing variables of the same name: an inherited
// LOG_LEVEL must not change what the program logs.
std::vector<std::string> merged_env(const std::vector<std::string>& overrides) {
  std::vector<std::string> out;
  for (char** e = environ; *e; e++) {
    std::string_view kv(*e);
    bool replaced = false;
    for (const auto& o : overrides) replaced = replaced || name_of(o) == name_of(kv);
    if (!replaced) out.emplace_back(kv);
  }
  out.insert(out.end(), overrides.begin(), overrides.end());
  return out;
}

// Waits up to `timeout` for the pidfd to become readable (the process exited).
bool wait_exit(int pidfd, std::chrono::milliseconds timeout) {
  pollfd p{pidfd, POLLIN, 0};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    int rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

std::string ProcessId::str() const {
  return "pid=" + std::to_string(pid) + " start=" + std::to_string(start_time);
}

std::optional<ProcessId> ProcessId::parse(std::string_view text) {
  auto number = [](std::string_view s, auto& out) {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
  };
  if (!text.starts_with("pid=")) return std::nullopt;
  auto space = text.find(" start=");
  if (space == std::string_view::npos) return std::nullopt;
  ProcessId id;
  if (!number(text.substr(4, space - 4), id.pid) ||
      !number(text.substr(space + 7), id.start_time) || id.pid <= 0)
    return std::nullopt;
  return id;
}

std::optional<uint64_t> start_time(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  if (!std::getline(f, s)) return std::nullopt;
  // The command name (field 2) may hold spaces and parentheses: fields count from the last ')'.
  auto close = s.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::string_view rest = std::string_view(s).substr(close + 1);
  // Field 3 is the state; field 22 the start time.
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (fields.size() < 20 && i < rest.size()) {
    while (i < rest.size() && rest[i] == ' ') i++;
    size_t j = rest.find(' ', i);
    fields.push_back(rest.substr(i, j == std::string_view::npos ? rest.size() - i : j - i));
    i = j == std::string_view::npos ? rest.size() : j;
  }
  if (fields.size() < 20 || fields[0] == "Z" || fields[0] == "X") return std::nullopt;
  uint64_t t = 0;
  auto f22 = fields[19];
  auto [ptr, ec] = std::from_chars(f22.data(), f22.data() + f22.size(), t);
  if (ec != std::errc() || ptr != f22.data() + f22.size()) return std::nullopt;
  return t;
}

std::vector<std::string> cmdline(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> out;
  std::string arg;
  while (std::getline(f, arg, '\0')) out.push_back(arg);
  return out;
}

std::optional<std::string> find_program(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    if (::access(program.c_str(), X_OK) == 0) return program;
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    dirs = colon == std::string_view::npos ? "" : dirs.substr(colon + 1);
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = ::sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) +
           (name ? std::string(" (SIG") + name + ")" : std::string());
  }
  return "wait status " + std::to_string(status);
}

Process Process::spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                       const std::string& log_path, const SpawnOptions& options) {
  if (argv.empty()) throw SystemError("spawn: empty command");
  // Every descriptor the child moves is first copied above the numbers it is moved to, so no
  // dup2 onto 3, 4, ... can overwrite one still needed (the error pipe, the program, a later one).
  const int first_free = 3 + static_cast<int>(options.pass_fds.size());
  auto above = [&](int fd, const char* what) {
    Fd copy(::fcntl(fd, F_DUPFD_CLOEXEC, first_free));
    if (!copy) throw SystemError(std::string("spawn: ") + what + ": " + std::strerror(errno));
    return copy;
  };
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0)
    throw SystemError(std::string("pipe: ") + std::strerror(errno));
  Fd rd(pipefd[0]), wr(pipefd[1]);
  wr = above(wr.get(), "error pipe");
  std::vector<Fd> passed;
  for (int fd : options.pass_fds) passed.push_back(above(fd, "descriptor to pass"));
  Fd program;
  if (options.exec_fd >= 0) program = above(options.exec_fd, "program");
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_store = options.replace_env ? env : merged_env(env);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) throw SystemError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::setsid();
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int in = ::open("/dev/null", O_RDONLY);
    int out = options.inherit_stderr
                  ? ::open("/dev/null", O_WRONLY)
                  : ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (in < 0 || out < 0) {
      int e = errno;
      (void)!::write(wr.get(), &e, sizeof e);
      ::_exit(127);
    }
    ::dup2(in, 0);
    ::dup2(out, 1);
    if (!options.inherit_stderr) ::dup2(out, 2);
    for (size_t i = 0; i < passed.size(); i++) ::dup2(passed[i].get(), 3 + static_cast<int>(i));
    // Nothing else of ours may leak into the program (a copy of Docker's connection would keep it
    // open after we close it). close_range needs Linux 5.9/5.11; otherwise close one by one.
    if (::close_range(static_cast<unsigned>(first_free), ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      long max = ::sysconf(_SC_OPEN_MAX);
      for (int fd = first_free; fd < (max > 0 ? max : 65536); fd++)
        if (fd != wr.get() && fd != program.get()) ::close(fd);
    }
    if (program)
      ::execveat(program.get(), "", args.data(), envp.data(), AT_EMPTY_PATH);
    else
      ::execvpe(args[0], args.data(), envp.data());
    int e = errno;
    (void)!::write(wr.get(), &e, sizeof e);
    ::_exit(127);
  }
  // Our unreaped child cannot be replaced by another process: the pidfd is for this one.
  Fd pidfd(pidfd_open(pid));
  int open_errno = errno;
  wr.reset();
  int child_errno = 0;
  ssize_t n;
  do n = ::read(rd.get(), &child_errno, sizeof child_errno);
  while (n < 0 && errno == EINTR);
  if (n == sizeof child_errno) {
    ::waitpid(pid, nullptr, 0);
    throw SystemError("cannot run '" + argv[0] + "': " + std::strerror(child_errno));
  }
  if (!pidfd) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw SystemError(std::string("pidfd_open: ") + std::strerror(open_errno));
  }
  // A child that already exited has no start time any more; it is reported as exited later.
  return Process({pid, start_time(pid).value_or(0)}, std::move(pidfd), true);
}

std::optional<Process> Process::adopt(
    const ProcessId& id, const std::function<bool(const std::vector<std::string>&)>& check) {
  Fd pidfd(pidfd_open(id.pid));
  if (!pidfd) return std::nullopt;
  // The pidfd names whatever had the PID when it was opened; the start time, read after, tells
  // whether that is still the process recorded (a reused PID has a later start time).
  if (start_time(id.pid) != id.start_time || !check(cmdline(id.pid))) return std::nullopt;
  if (pidfd_signal(pidfd.get(), 0) != 0) return std::nullopt;
  return Process(id, std::move(pidfd), false);
}

bool Process::exited(int* status) {
  if (reaped_) {
    if (status) *status = -1;
    return true;
  }
  if (child_) {
    siginfo_t info{};
    if (::waitid(static_cast<idtype_t>(kIdPidfd), static_cast<id_t>(pidfd_.get()), &info,
                 WEXITED | WNOHANG) != 0)
      return false;
    if (info.si_pid == 0) return false;
    reaped_ = true;
    if (status)
      *status = info.si_code == CLD_EXITED ? W_EXITCODE(info.si_status, 0) : info.si_status & 0x7f;
    return true;
  }
  pollfd p{pidfd_.get(), POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  reaped_ = true;
  if (status) *status = -1;
  return true;
}

bool Process::terminate(std::chrono::milliseconds grace) {
  if (exited()) return true;
  pidfd_signal(pidfd_.get(), SIGTERM);
  if (!wait_exit(pidfd_.get(), grace)) {
    pidfd_signal(pidfd_.get(), SIGKILL);
    if (!wait_exit(pidfd_.get(), std::chrono::seconds(2))) return false;
  }
  return exited();
}

int Process::kill_and_reap(std::chrono::milliseconds wait) {
  int status = -1;
  if (exited(&status)) return status;
  pidfd_signal(pidfd_.get(), SIGKILL);
  wait_exit(pidfd_.get(), wait);
  (void)exited(&status);
  return status;
}

}  // namespace wgnet::process
