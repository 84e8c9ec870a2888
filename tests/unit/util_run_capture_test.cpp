// run_capture on real programs (sh, cat, head): stdin in, stdout out, exit statuses, a program
// that reads nothing or too slowly, output beyond the bound, the deadline, a program that cannot
// be run, and no descriptor of ours leaked.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fd.h"
#include "util/run_capture.h"

namespace wgnet::process {
namespace {

RunResult sh(const std::string& script, const std::string& input = "", RunLimits limits = {}) {
  return run_capture("/bin/sh", {"sh", "-c", script}, {"PATH=/usr/bin:/bin"}, input, limits);
}

TEST(RunCapture, FeedsStdinAndCapturesStdout) {
  const std::string big(1 << 20, 'x');  // larger than a pipe's buffer both ways
  const RunResult r = run_capture("/bin/cat", {"cat"}, {}, big);
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
  EXPECT_EQ(r.out.size(), big.size());
  EXPECT_EQ(r.out, big);
  EXPECT_FALSE(r.timed_out || r.output_too_large);
}

TEST(RunCapture, ExitStatusEnvironmentAndArguments) {
  const RunResult r = sh("echo \"$PATH $HOME-unset\"; exit 3");
  EXPECT_EQ(r.out, "/usr/bin:/bin -unset\n");
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3);
}

TEST(RunCapture, SignalsAreAtTheirDefaultsInTheProgram) {
  ::signal(SIGPIPE, SIG_IGN);  // as a daemon has it
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &block, &old);
  const RunResult r = sh("exec grep -E '^(SigBlk|SigIgn)' /proc/self/status");
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  // Read by the program itself (exec: no fork, whose moment the shell blocks signals around).
  // SigIgn may show glibc's own two real-time signals (32, 33), never ours.
  ASSERT_EQ(r.out.substr(0, 24), "SigBlk:\t0000000000000000") << r.out;
  const auto ignored = std::stoull(r.out.substr(r.out.find("SigIgn:\t") + 8), nullptr, 16);
  EXPECT_EQ(ignored & (1ull << (SIGPIPE - 1)), 0u) << r.out;
}

TEST(RunCapture, AProgramThatReadsNothingDoesNotRaiseSigpipe) {
  const RunResult r = sh("echo early", std::string(4 << 20, 'y'));
  EXPECT_EQ(r.out, "early\n");
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
}

TEST(RunCapture, OutputBeyondTheBoundIsCutAndTheProgramKilled) {
  RunLimits limits;
  limits.max_stdout = 1000;
  const RunResult r = sh("while :; do echo xxxxxxxxxxxxxxxx; done", "", limits);
  EXPECT_TRUE(r.output_too_large);
  EXPECT_TRUE(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL);
}

TEST(RunCapture, TheDeadlineKillsIt) {
  RunLimits limits;
  limits.timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  const RunResult r = sh("exec sleep 10", "", limits);
  EXPECT_TRUE(r.timed_out);
  EXPECT_TRUE(WIFSIGNALED(r.status));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(RunCapture, NoDescriptorOfOursLeaks) {
  Fd stray(::open("/dev/null", O_RDONLY));  // not close-on-exec
  ASSERT_TRUE(stray);
  const std::string fd = std::to_string(stray.get());
  const RunResult r = sh("[ -e /proc/$$/fd/" + fd +
                         " ] && echo leaked; [ -e /proc/$$/fd/3 ] && echo three; echo checked");
  EXPECT_EQ(r.out, "checked\n") << "fd " << fd;
}

TEST(RunCapture, AProgramThatCannotBeRunThrowsNamingIt) {
  try {
    run_capture("/nonexistent/host-local", {"host-local"}, {}, "");
    FAIL();
  } catch (const SystemError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/host-local"), std::string::npos);
  }
}

}  // namespace
}  // namespace wgnet::process
