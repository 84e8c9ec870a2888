// EngineSupervisor's word for why an engine process was replaced (wgnet_engine_restarts_total's
// reason label), from its wait status and whether it ended before wgnetd killed it.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>

#include "wg/engine_supervisor.h"

namespace wgnet::wg {
namespace {

TEST(EngineRestartReason, NamesHowTheEngineEnded) {
  EXPECT_EQ(restart_reason(SIGSYS, true), "seccomp");
  EXPECT_EQ(restart_reason(SIGKILL, true), "signal");
  EXPECT_EQ(restart_reason(SIGSEGV, true), "signal");
  EXPECT_EQ(restart_reason(1 << 8, true), "exit");
  EXPECT_EQ(restart_reason(-1, true), "ended");  // not wgnetd's child: how is unknown
  // Alive when wgnetd killed it (its SIGKILL is in the status): its connection broke.
  EXPECT_EQ(restart_reason(SIGKILL, false), "broken");
  EXPECT_EQ(restart_reason(-1, false), "broken");
  // Still ending when wgnetd looked, but its status is its own (wgnetd sends only SIGKILL).
  EXPECT_EQ(restart_reason(SIGSYS, false), "seccomp");
  EXPECT_EQ(restart_reason(3 << 8, false), "exit");
}

TEST(EngineRestartReason, EveryReasonIsALabelValueKnownInAdvance) {
  for (int status : {SIGSYS, SIGKILL, 0, -1})
    for (bool by_itself : {true, false}) {
      const std::string_view r = restart_reason(status, by_itself);
      EXPECT_NE(std::find(std::begin(kRestartReasons), std::end(kRestartReasons), r),
                std::end(kRestartReasons))
          << r;
    }
}

}  // namespace
}  // namespace wgnet::wg
