#include "engine/linux/test_hooks.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>

#include "util/log.h"

namespace wgnet::engine::test_hooks {

namespace {
constexpr const char* kTimingsVariable = "WGNET_ENGINE_TEST_TIMINGS";
}

#ifdef WGNET_TEST_HOOKS

bool enabled() { return true; }

namespace {
// Async-signal-safe: one system call, which the supervised engine's filter answers by killing it.
void attempt_openat(int) {
  (void)::syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY | O_CLOEXEC);
}
}  // namespace

void install_forbidden_call_trigger() {
  struct sigaction sa {};
  sa.sa_handler = attempt_openat;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGUSR2, &sa, nullptr);
}

std::optional<Timings> timings_from_env() {
  const char* spec = std::getenv(kTimingsVariable);
  if (!spec || !*spec) return std::nullopt;
  auto timings = parse_timings(spec);
  log::warn(std::string(kTimingsVariable) + " is set: protocol timers are shortened (tests only)");
  return timings;
}

#else

bool enabled() { return false; }

void install_forbidden_call_trigger() {}

std::optional<Timings> timings_from_env() {
  if (const char* spec = std::getenv(kTimingsVariable); spec && *spec)
    log::warn(std::string(kTimingsVariable) +
              " is ignored: this build has no test hooks (configure with -DWGNET_TEST_HOOKS=ON)");
  return std::nullopt;
}

#endif

}  // namespace wgnet::engine::test_hooks
