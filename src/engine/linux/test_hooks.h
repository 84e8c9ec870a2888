// Settings that exist for tests only, read from the environment by the programs (wgnetd,
// wgnet-engine). They are compiled in only when the build is configured with
// -DWGNET_TEST_HOOKS=ON (scripts/test does; scripts/build does not): a release build never runs
// with shortened protocol timers, whatever its environment says.
#pragma once
#include <optional>

#include "engine/timers.h"

namespace wgnet::engine::test_hooks {

// True in a build with test hooks (`--version` says so).
bool enabled();

// WGNET_ENGINE_TEST_TIMINGS (parse_timings syntax) when it is set and the build has test hooks;
// a release build logs a warning that it ignores the variable. Throws InputError when malformed.
std::optional<Timings> timings_from_env();

// Test builds: SIGUSR2 makes the process attempt openat(2) from a signal handler — in the
// supervised engine, a call outside its seccomp allow-list, which kills it (SIGSYS): how the tests
// check that the filter kills and wgnetd replaces the engine. A release build leaves SIGUSR2 alone.
void install_forbidden_call_trigger();

}  // namespace wgnet::engine::test_hooks
