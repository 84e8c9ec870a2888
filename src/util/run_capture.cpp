// One poll loop writes stdin and drains stdout until the program closes stdout and exits, so
// neither side can block the other however large the input or output.
#include "util/run_capture.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"
#include "util/fd.h"

namespace wgnet::process {
namespace {

std::pair<Fd, Fd> make_pipe() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw SystemError("pipe2: " + errno_text(errno));
  return {Fd(p[0]), Fd(p[1])};
}

// stdin is a socket rather than a pipe, so writing to a program that exited without reading it
// fails with EPIPE (MSG_NOSIGNAL) instead of raising SIGPIPE in the caller.
std::pair<Fd, Fd> make_input_socket() {
  int p[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0)
    throw SystemError("socketpair: " + errno_text(errno));
  ::shutdown(p[0], SHUT_WR);
  ::shutdown(p[1], SHUT_RD);
  return {Fd(p[0]), Fd(p[1])};
}

}  // namespace

RunResult run_capture(const std::string& path, const std::vector<std::string>& argv,
                      const std::vector<std::string>& env, const std::string& input,
                      const RunLimits& limits) {
  auto [in_read, in_write] = make_input_socket();
  auto [out_read, out_write] = make_pipe();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_read.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  // Not our signal mask or ignored signals (a daemon ignores SIGPIPE; the plugin must not inherit
  // that).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, path.c_str(), &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw SystemError("cannot run " + path + ": " + errno_text(rc));
  in_read.reset();
  out_write.reset();

  RunResult result;
  size_t written = 0;
  if (input.empty()) in_write.reset();
  const auto deadline = std::chrono::steady_clock::now() + limits.timeout;
  while (out_read) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd fds[2] = {{out_read.get(), POLLIN, 0}, {in_write ? in_write.get() : -1, POLLOUT, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) break;
    if (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) {
      const ssize_t w = ::send(in_write.get(), input.data() + written, input.size() - written,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) written += static_cast<size_t>(w);
      // It may exit without reading everything: EPIPE just ends the input.
      if (written == input.size() || (w < 0 && errno != EAGAIN && errno != EINTR)) in_write.reset();
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[16384];
      const ssize_t r = ::read(out_read.get(), buf, sizeof buf);
      if (r > 0) {
        result.out.append(buf, static_cast<size_t>(r));
        if (result.out.size() > limits.max_stdout) {
          result.output_too_large = true;
          break;
        }
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        out_read.reset();
      }
    }
  }
  if (result.timed_out || result.output_too_large) ::kill(pid, SIGKILL);
  in_write.reset();
  out_read.reset();
  // Its stdout is closed: it has exited or is about to; one that lingers past the deadline
  // (stdout handed to a child of its own) is killed.
  for (;;) {
    const pid_t w = ::waitpid(pid, &result.status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR)
      throw SystemError("waiting for " + path + ": " + errno_text(errno));
    if (std::chrono::steady_clock::now() > deadline) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &result.status, 0);
      break;
    }
    ::usleep(1000);
  }
  return result;
}

}  // namespace wgnet::process
