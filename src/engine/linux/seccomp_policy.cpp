// The table is ordered by concern; libseccomp builds the filter (a binary tree of comparisons)
// from it. Argument rules compare the registers the kernel sees: a masked 32-bit compare where the
// argument is an int (the upper half of the register is not defined for those).
#include "engine/linux/seccomp_policy.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "util/error.h"

namespace wgnet::engine {
namespace {

using R = SyscallRule;

constexpr std::array kPolicy{
    // data path: TUN reads and writes, UDP batches, send backpressure
    SyscallPolicyEntry{"read", R::kAllow},
    SyscallPolicyEntry{"readv", R::kAllow},
    SyscallPolicyEntry{"write", R::kAllow},
    SyscallPolicyEntry{"writev", R::kAllow},
    SyscallPolicyEntry{"recvmmsg", R::kAllow},
    SyscallPolicyEntry{"sendmmsg", R::kAllow},
    SyscallPolicyEntry{"poll", R::kAllow},
    SyscallPolicyEntry{"ppoll", R::kAllow},
    // event loop and timers
    SyscallPolicyEntry{"epoll_create1", R::kAllow},
    SyscallPolicyEntry{"epoll_ctl", R::kAllow},
    SyscallPolicyEntry{"epoll_wait", R::kAllow},
    SyscallPolicyEntry{"epoll_pwait", R::kAllow},
    SyscallPolicyEntry{"eventfd2", R::kAllow},
    SyscallPolicyEntry{"timerfd_create", R::kAllow},
    SyscallPolicyEntry{"timerfd_settime", R::kAllow},
    SyscallPolicyEntry{"close", R::kAllow},
    // control channel (SCM_RIGHTS), and the next wgnetd's connection when one is gone
    SyscallPolicyEntry{"recvmsg", R::kAllow},
    SyscallPolicyEntry{"sendmsg", R::kAllow},
    SyscallPolicyEntry{"accept4", R::kAllow},
    // checks of handed descriptors before use, read-only: a TUN's flags, a UDP socket's family,
    // type, options and port
    SyscallPolicyEntry{"ioctl", R::kTunGetIff},
    SyscallPolicyEntry{"fcntl", R::kGetFlags},
    SyscallPolicyEntry{"getsockopt", R::kSocketChecks},
    SyscallPolicyEntry{"getsockname", R::kAllow},
    // threads, synchronisation, signals of its own
    SyscallPolicyEntry{"clone", R::kThreadsOnly},
    SyscallPolicyEntry{"clone3", R::kFailEnosys},
    SyscallPolicyEntry{"futex", R::kAllow},
    SyscallPolicyEntry{"set_robust_list", R::kAllow},
    SyscallPolicyEntry{"rseq", R::kAllow},
    SyscallPolicyEntry{"rt_sigprocmask", R::kAllow},
    // glibc installs its cancellation handlers at the first pthread_create; abort() resets SIGABRT
    SyscallPolicyEntry{"rt_sigaction", R::kAllow},
    SyscallPolicyEntry{"rt_sigreturn", R::kAllow},
    SyscallPolicyEntry{"restart_syscall", R::kAllow},
    SyscallPolicyEntry{"sched_yield", R::kAllow},
    SyscallPolicyEntry{"sched_getaffinity", R::kAllow},
    SyscallPolicyEntry{"getpid", R::kAllow},
    SyscallPolicyEntry{"gettid", R::kAllow},
    SyscallPolicyEntry{"tgkill", R::kOwnProcess},
    SyscallPolicyEntry{"exit", R::kAllow},
    SyscallPolicyEntry{"exit_group", R::kAllow},
    // memory
    SyscallPolicyEntry{"mmap", R::kNoExec},
    SyscallPolicyEntry{"mprotect", R::kNoExec},
    SyscallPolicyEntry{"munmap", R::kAllow},
    SyscallPolicyEntry{"mremap", R::kAllow},
    SyscallPolicyEntry{"madvise", R::kAllow},
    SyscallPolicyEntry{"brk", R::kAllow},
    // time and randomness (libsodium, OpenSSL)
    SyscallPolicyEntry{"clock_gettime", R::kAllow},
    SyscallPolicyEntry{"clock_nanosleep", R::kAllow},
    SyscallPolicyEntry{"nanosleep", R::kAllow},
    SyscallPolicyEntry{"gettimeofday", R::kAllow},
    SyscallPolicyEntry{"getrandom", R::kAllow},
    // the machine's memory, which sizes each device's handshake rate-limiter table
    SyscallPolicyEntry{"sysinfo", R::kAllow},
#ifdef WGNET_SANITIZER
    // ASan's runtime (found by running the sandbox test under it): each thread gets an alternate
    // signal stack; a check that a memory range is readable writes it into a pipe. LeakSanitizer
    // cannot run (it clones a tracer process), so
    // sanitizer builds run the engine with detect_leaks=0. No file calls: nothing is reachable
    // from the empty root anyway.
    SyscallPolicyEntry{"sigaltstack", R::kAllow},
    SyscallPolicyEntry{"pipe2", R::kAllow},
#endif
};

struct FilterDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

void check(int rc, const std::string& what) {
  if (rc < 0) throw SystemError("seccomp: " + what + ": " + errno_text(-rc));
}

}  // namespace

std::span<const SyscallPolicyEntry> engine_syscall_policy() { return kPolicy; }

void load_engine_seccomp_filter() {
  std::unique_ptr<void, FilterDeleter> ctx(seccomp_init(SCMP_ACT_KILL_PROCESS));
  if (!ctx) throw SystemError("seccomp: seccomp_init failed");
  check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS),
        "foreign-architecture action");
  check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_LOG, 1), "logging of kills");
  const auto own_pid = static_cast<scmp_datum_t>(::getpid());
  for (const SyscallPolicyEntry& e : kPolicy) {
    const int nr = seccomp_syscall_resolve_name(e.name);
    if (nr == __NR_SCMP_ERROR)
      throw SystemError(std::string("seccomp: unknown system call ") + e.name);
    if (e.rule == R::kSocketChecks) {
      // One rule per (level, option) pair the adopt checks read (udp_linux.cpp check_adopted,
      // UDP_SEGMENT's probe) and the next controller's credentials (SO_PEERCRED); libseccomp
      // allows the call when any of them matches.
      constexpr std::pair<scmp_datum_t, scmp_datum_t> kReads[] = {
          {SOL_SOCKET, SO_DOMAIN},          {SOL_SOCKET, SO_TYPE},
          {SOL_SOCKET, SO_PROTOCOL},        {IPPROTO_IP, IP_PKTINFO},
          {IPPROTO_IPV6, IPV6_RECVPKTINFO}, {IPPROTO_IPV6, IPV6_V6ONLY},
          {SOL_UDP, UDP_SEGMENT},           {SOL_SOCKET, SO_PEERCRED}};
      for (const auto& [level, option] : kReads)
        check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 2,
                               SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, level),
                               SCMP_A2(SCMP_CMP_MASKED_EQ, 0xffffffffu, option)),
              std::string("rule for ") + e.name);
      continue;
    }
    // The argument comparisons each rule adds (all must hold).
    std::vector<scmp_arg_cmp> args;
    uint32_t action = SCMP_ACT_ALLOW;
    switch (e.rule) {
      case R::kSocketChecks:  // above
        break;
      case R::kAllow:
        break;
      case R::kThreadsOnly:
        args = {SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)};
        break;
      case R::kNoExec:
        args = {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)};
        break;
      case R::kTunGetIff:
        args = {SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TUNGETIFF)};
        break;
      case R::kGetFlags:
        args = {SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, F_GETFL)};
        break;
      case R::kOwnProcess:
        args = {SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, own_pid)};
        break;
      case R::kFailEnosys:
        action = SCMP_ACT_ERRNO(ENOSYS);
        break;
    }
    check(seccomp_rule_add_array(ctx.get(), action, nr, static_cast<unsigned>(args.size()),
                                 args.data()),
          std::string("rule for ") + e.name);
  }
  check(seccomp_load(ctx.get()), "loading the filter");
}

}  // namespace wgnet::engine
