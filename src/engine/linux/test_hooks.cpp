#include "engine/linux/test_hooks.h"

#include <cstdlib>

#include "util/log.h"

namespace wgnet::engine::test_hooks {

namespace {
constexpr const char* kTimingsVariable = "WGNET_ENGINE_TEST_TIMINGS";
}

#ifdef WGNET_TEST_HOOKS

bool enabled() { return true; }

std::optional<Timings> timings_from_env() {
  const char* spec = std::getenv(kTimingsVariable);
  if (!spec || !*spec) return std::nullopt;
  auto timings = parse_timings(spec);
  log::warn(std::string(kTimingsVariable) + " is set: protocol timers are shortened (tests only)");
  return timings;
}

#else

bool enabled() { return false; }

std::optional<Timings> timings_from_env() {
  if (const char* spec = std::getenv(kTimingsVariable); spec && *spec)
    log::warn(std::string(kTimingsVariable) +
              " is ignored: this build has no test hooks (configure with -DWGNET_TEST_HOOKS=ON)");
  return std::nullopt;
}

#endif

}  // namespace wgnet::engine::test_hooks
