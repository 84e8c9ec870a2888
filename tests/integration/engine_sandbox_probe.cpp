// A process that enters the engine's sandbox and then tries what it is told, for
// engine_sandbox_test.cpp: argv = UID GID ROOT. Once inside it writes "ready\n" on stdout and
// reads one command from stdin; allowed commands exit 0, forbidden ones end in SIGSYS (the test
// checks which).
#include <fcntl.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>

#include "engine/linux/sandbox.h"

namespace {

int run(const std::string& command) {
  if (command == "exit") return 0;
  if (command == "thread") {  // a worker thread, as the engine starts after entering
    int result = 1;
    std::thread t([&] {
      unsigned char b[32];
      result = ::getrandom(b, sizeof b, 0) == sizeof b ? 0 : 2;
    });
    t.join();
    return result;
  }
  if (command == "memory") {  // a large allocation, freed (mmap/munmap)
    void* p = ::mmap(nullptr, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 3;
    static_cast<char*>(p)[0] = 1;
    return ::munmap(p, 64 << 20) == 0 ? 0 : 4;
  }
  if (command == "abort") std::abort();  // must end in SIGABRT, not SIGSYS
  // Each of these must kill the process before it returns.
  if (command == "openat") ::open("/etc/passwd", O_RDONLY);
  if (command == "socket") ::socket(AF_INET, SOCK_DGRAM, 0);
  if (command == "execve") ::execl("/bin/true", "true", nullptr);
  if (command == "fork") ::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (command == "exec-memory")
    ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (command == "tun-persist") ::ioctl(0, TUNSETPERSIST, 0ul);
  if (command == "setuid") ::syscall(SYS_setuid, 0);
  if (command == "unshare") ::unshare(CLONE_NEWNET);
  if (command == "kill") ::kill(1, SIGTERM);
  return 100;  // survived a call that should have killed it, or an unknown command
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s UID GID ROOT\n", argv[0]);
    return 64;
  }
  try {
    wgnet::engine::SandboxOptions options;
    options.uid = static_cast<uid_t>(std::stoul(argv[1]));
    options.gid = static_cast<gid_t>(std::stoul(argv[2]));
    options.root = argv[3];
    const auto report = wgnet::engine::enter_sandbox(options);
    if (!report.private_network) std::fprintf(stderr, "%s\n", report.private_network_error.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 65;
  }
  static const char ready[] = "ready\n";
  if (::write(1, ready, sizeof ready - 1) != sizeof ready - 1) return 66;
  char buf[64];
  const ssize_t n = ::read(0, buf, sizeof buf);
  if (n <= 0) return 67;
  std::string command(buf, static_cast<size_t>(n));
  while (!command.empty() && command.back() == '\n') command.pop_back();
  return run(command);
}
