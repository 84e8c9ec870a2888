// process::Process::spawn's options on real child processes (/bin/sh): descriptors handed over as
// 3, 4, ... in order and nothing else of ours, the program run from an open file whatever argv[0]
// says, a replaced environment, stdout to /dev/null; and wait statuses in words.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "temp_dir.h"
#include "util/error.h"
#include "util/process.h"

namespace wgnet::process {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `script` with sh and waits for it; returns its wait status.
int run(const std::string& script, const std::string& log, const SpawnOptions& options,
        const std::vector<std::string>& env = {}, const std::string& argv0 = "sh") {
  Process p = Process::spawn({argv0, "-c", script}, env, log, options);
  int status = 0;
  for (int i = 0; i < 500 && !p.exited(&status); i++) ::usleep(10000);
  return status;
}

TEST(ProcessSpawn, PassesDescriptorsAsThreeFourInOrderAndNothingElse) {
  testing::TempDir dir("wgnet-spawn");
  const auto log = dir.path() / "log";
  const auto a = dir.path() / "a", b = dir.path() / "b";
  Fd fa(::open(a.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  Fd fb(::open(b.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  Fd stray(::fcntl(fa.get(), F_DUPFD, 50));  // not close-on-exec: must still not reach the child
  ASSERT_TRUE(fa && fb && stray);
  SpawnOptions options;
  options.pass_fds = {fb.get(), fa.get()};
  const int status =
      run("echo three >&3; echo four >&4; [ -e /proc/$$/fd/" + std::to_string(stray.get()) +
              " ] && echo leaked; [ -e /proc/$$/fd/5 ] && echo five; echo done",
          log, options);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_wait_status(status);
  EXPECT_EQ(read_file(b), "three\n");
  EXPECT_EQ(read_file(a), "four\n");
  EXPECT_EQ(read_file(log), "done\n");
}

TEST(ProcessSpawn, RunsTheOpenProgramWhateverArgvZeroSays) {
  testing::TempDir dir("wgnet-spawn");
  Fd program(::open("/bin/sh", O_PATH | O_CLOEXEC));
  ASSERT_TRUE(program);
  SpawnOptions options;
  options.exec_fd = program.get();
  const int status = run("echo ran", dir.path() / "log", options, {}, "no-such-program-in-path");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_wait_status(status);
  EXPECT_EQ(read_file(dir.path() / "log"), "ran\n");
  // Without it, the same argv[0] cannot be found.
  EXPECT_THROW(Process::spawn({"no-such-program-in-path"}, {}, dir.path() / "log2"),
               wgnet::SystemError);
}

TEST(ProcessSpawn, ReplacedEnvironmentHoldsOnlyWhatWasGiven) {
  testing::TempDir dir("wgnet-spawn");
  ::setenv("WGNET_SPAWN_TEST_INHERITED", "yes", 1);
  SpawnOptions options;
  options.replace_env = true;
  Fd program(::open("/bin/sh", O_PATH | O_CLOEXEC));
  options.exec_fd = program.get();  // no PATH in the new environment
  run("echo \"$ONLY ${WGNET_SPAWN_TEST_INHERITED-unset}\"", dir.path() / "log", options,
      {"ONLY=given"});
  EXPECT_EQ(read_file(dir.path() / "log"), "given unset\n");
  run("echo \"${WGNET_SPAWN_TEST_INHERITED-unset}\"", dir.path() / "log2", {});
  EXPECT_EQ(read_file(dir.path() / "log2"), "yes\n");
  ::unsetenv("WGNET_SPAWN_TEST_INHERITED");
}

TEST(ProcessSpawn, InheritedStderrSendsStdoutNowhereAndWritesNoLog) {
  testing::TempDir dir("wgnet-spawn");
  SpawnOptions options;
  options.inherit_stderr = true;
  const int status =
      run("echo out; [ \"$(readlink /proc/$$/fd/1)\" = /dev/null ]", dir.path() / "log", options);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_wait_status(status);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "log"));
}

TEST(ProcessSpawn, WaitStatusInWords) {
  EXPECT_EQ(describe_wait_status(1 << 8), "exited with status 1");
  EXPECT_EQ(describe_wait_status(0), "exited with status 0");
  EXPECT_EQ(describe_wait_status(SIGSYS), "killed by signal 31 (SIGSYS)");
  EXPECT_EQ(describe_wait_status(SIGKILL), "killed by signal 9 (SIGKILL)");
}

}  // namespace
}  // namespace wgnet::process
