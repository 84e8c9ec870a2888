// fork/exec with an error pipe so a failed exec is reported to the caller, not just logged.
#include "util/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "util/error.h"
#include "util/fd.h"

extern char** environ;

namespace wgnet::process {

pid_t spawn_detached(const std::vector<std::string>& argv,
                     const std::vector<std::string>& extra_env, const std::string& log_path) {
  if (argv.empty()) throw SystemError("spawn: empty command");
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0)
    throw SystemError(std::string("pipe: ") + std::strerror(errno));
  Fd rd(pipefd[0]), wr(pipefd[1]);
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e; e++) env_store.emplace_back(*e);
  for (auto& e : extra_env) env_store.push_back(e);
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
    int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (in < 0 || out < 0) {
      int e = errno;
      (void)!::write(wr.get(), &e, sizeof e);
      ::_exit(127);
    }
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    // Nothing of ours may leak into the program (a copy of Docker's connection would keep it
    // open after we close it). close_range needs Linux 5.9/5.11; otherwise close one by one.
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      long max = ::sysconf(_SC_OPEN_MAX);
      for (int fd = 3; fd < (max > 0 ? max : 65536); fd++)
        if (fd != wr.get()) ::close(fd);
    }
    ::execvpe(args[0], args.data(), envp.data());
    int e = errno;
    (void)!::write(wr.get(), &e, sizeof e);
    ::_exit(127);
  }
  wr.reset();
  int child_errno = 0;
  ssize_t n;
  do n = ::read(rd.get(), &child_errno, sizeof child_errno);
  while (n < 0 && errno == EINTR);
  if (n == sizeof child_errno) {
    ::waitpid(pid, nullptr, 0);
    throw SystemError("cannot run '" + argv[0] + "': " + std::strerror(child_errno));
  }
  return pid;
}

namespace {
char state_of(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  if (!std::getline(f, s)) return 0;
  auto close = s.rfind(')');
  return close == std::string::npos || close + 2 >= s.size() ? 0 : s[close + 2];
}
}  // namespace

std::vector<std::string> cmdline(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> out;
  std::string arg;
  while (std::getline(f, arg, '\0')) out.push_back(arg);
  return out;
}

bool alive(pid_t pid) {
  char s = state_of(pid);
  return s != 0 && s != 'Z' && s != 'X';
}

std::vector<pid_t> find(const std::function<bool(const std::vector<std::string>&)>& match) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    auto cl = cmdline(static_cast<pid_t>(pid));
    if (!cl.empty() && alive(static_cast<pid_t>(pid)) && match(cl))
      out.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(d);
  return out;
}

bool reap_if_exited(pid_t pid, int* status) {
  int st = 0;
  pid_t r = ::waitpid(pid, &st, WNOHANG);
  if (r == pid) {
    if (status) *status = st;
    return true;
  }
  if (r < 0 && errno == ECHILD) return !alive(pid);
  return false;
}

bool terminate(pid_t pid, std::chrono::milliseconds grace) {
  if (reap_if_exited(pid)) return true;
  ::kill(pid, SIGTERM);
  // Programs usually exit within milliseconds: poll finely first, then back off.
  auto deadline = std::chrono::steady_clock::now() + grace;
  auto step = std::chrono::microseconds(200);
  while (std::chrono::steady_clock::now() < deadline) {
    if (reap_if_exited(pid)) return true;
    std::this_thread::sleep_for(step);
    step = std::min<std::chrono::microseconds>(step * 2, std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  for (int i = 0; i < 100; i++) {
    if (reap_if_exited(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace wgnet::process
