// The plugin's keeper (daemon/keeper.h): which ends of wgnetd it restarts, and the keeper itself on
// a real child (/bin/sh standing in for wgnetd): restarted after a crash, reaping what the child
// leaves, SIGTERM passed on, ended by an exit status 2. Each keeper runs in a forked process of
// the test's (it blocks signals and becomes a subreaper).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "daemon/keeper.h"
#include "temp_dir.h"

namespace wgnet::daemon {
namespace {

int exited(int code) { return code << 8; }  // a wait status
int killed(int sig) { return sig; }

TEST(KeeperAfterExit, RestartsWhatEndedUnaskedExceptAnOptionsError) {
  EXPECT_TRUE(after_wgnetd_exit(killed(SIGKILL), false).restart);
  EXPECT_TRUE(after_wgnetd_exit(killed(SIGSEGV), false).restart);
  EXPECT_TRUE(after_wgnetd_exit(exited(1), false).restart);
  EXPECT_TRUE(after_wgnetd_exit(exited(0), false).restart);  // a SIGTERM the keeper did not send
  const AfterExit bad_options = after_wgnetd_exit(exited(2), false);
  EXPECT_FALSE(bad_options.restart);
  EXPECT_EQ(bad_options.exit_code, 2);
}

TEST(KeeperAfterExit, StoppingEndsWithWgnetdsStatus) {
  EXPECT_EQ(after_wgnetd_exit(exited(0), true).exit_code, 0);
  EXPECT_FALSE(after_wgnetd_exit(exited(0), true).restart);
  EXPECT_EQ(after_wgnetd_exit(exited(3), true).exit_code, 3);
  EXPECT_EQ(after_wgnetd_exit(killed(SIGKILL), true).exit_code, 1);
}

std::size_t lines(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// Forks a keeper of `sh -c script`; returns its pid.
pid_t fork_keeper(const std::string& script,
                  std::chrono::milliseconds grace = std::chrono::seconds(5)) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    KeeperOptions o;
    o.backoff = {std::chrono::milliseconds(20), std::chrono::milliseconds(40),
                 std::chrono::seconds(10)};
    o.grace = grace;
    int code = 99;
    try {
      code = run_keeper({"/bin/sh", "-c", script}, o);
    } catch (...) {
    }
    ::_exit(code);
  }
  return pid;
}

// Waits up to 10 s for `pid` to end; its wait status, or -1.
int wait_for(pid_t pid) {
  int status = 0;
  for (int i = 0; i < 1000; i++) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    ::usleep(10000);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

TEST(Keeper, RestartsACrashedChildReapsItsOrphansAndPassesSigtermOn) {
  testing::TempDir dir("wgnet-keeper");
  const auto runs = dir.path() / "runs", orphans = dir.path() / "orphans",
             stopped = dir.path() / "stopped";
  // Runs 1 and 2 leave a process behind and crash; run 3 waits for SIGTERM and exits 0 on it.
  const std::string script = "echo $$ >>" + runs.string() + "; n=$(wc -l <" + runs.string() +
                             "); if [ $n -lt 3 ]; then (sleep 0.1; echo $$ >>" + orphans.string() +
                             ") & kill -SEGV $$; fi; trap 'echo term >" + stopped.string() +
                             "; exit 0' TERM; while :; do sleep 0.05; done";
  const pid_t keeper = fork_keeper(script);
  for (int i = 0; i < 500 && (lines(runs) < 3 || lines(orphans) < 2); i++) ::usleep(10000);
  ASSERT_EQ(lines(runs), 3u) << "the keeper starts the child again after each crash";
  ASSERT_EQ(lines(orphans), 2u);
  ::usleep(200000);
  EXPECT_EQ(lines(runs), 3u) << "a child that runs is not started twice";
  // The orphans were the keeper's to reap: no zombie child of it is left.
  int zombies = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(e.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    const auto close = line.rfind(')');
    if (close == std::string::npos || close + 4 >= line.size()) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == keeper && state == 'Z') ++zombies;
  }
  EXPECT_EQ(zombies, 0);
  ASSERT_EQ(::kill(keeper, SIGTERM), 0);
  const int status = wait_for(keeper);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the keeper ends with the child's status";
  EXPECT_TRUE(std::filesystem::exists(stopped)) << "the child got the SIGTERM";
}

TEST(Keeper, KillsAChildThatIgnoresSigtermAfterTheGrace) {
  testing::TempDir dir("wgnet-keeper");
  const auto ready = dir.path() / "ready";
  const pid_t keeper =
      fork_keeper("trap '' TERM; : >" + ready.string() + "; while :; do sleep 0.05; done",
                  std::chrono::milliseconds(300));
  for (int i = 0; i < 500 && !std::filesystem::exists(ready); i++) ::usleep(10000);
  ASSERT_TRUE(std::filesystem::exists(ready));
  ASSERT_EQ(::kill(keeper, SIGTERM), 0);
  const int status = wait_for(keeper);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 1) << "killed after the grace: not a clean stop";
}

TEST(Keeper, EndsWhenTheChildRejectsItsOptions) {
  testing::TempDir dir("wgnet-keeper");
  const auto runs = dir.path() / "runs";
  const pid_t keeper = fork_keeper("echo $$ >>" + runs.string() + "; exit 2");
  const int status = wait_for(keeper);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_EQ(lines(runs), 1u) << "not started again";
}

}  // namespace
}  // namespace wgnet::daemon
