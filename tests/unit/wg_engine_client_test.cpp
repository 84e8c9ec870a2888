// wgnetd's engine client (wg/engine_client.h) against a scripted engine on a real socketpair, no
// root: answers are matched to their request and events kept; whatever a hostile or broken engine
// sends instead — an answer to a request that was not asked, an answer without an id, bytes that
// are no frame, silence, end of file, endless events — marks the client broken (the supervisor
// then replaces the engine), and a refusal is only a refusal.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <thread>
#include <variant>

#include "engine/control/messages.h"
#include "engine/linux/control_channel.h"
#include "wg/engine_client.h"

namespace wgnet::wg {
namespace {

using namespace std::chrono_literals;

// The engine's end, scripted by the test.
struct Pair {
  Pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
    client = std::make_unique<EngineClient>(Fd(fds[0]), 300ms);
    engine = std::make_unique<engine::ControlChannel>(Fd(fds[1]), 500ms);
  }
  // The id of the next request the engine receives.
  uint32_t next_request() { return engine->receive().message.id; }
  void send(const control::FromEngine& m, uint32_t id) {
    engine->send(control::encode_from_engine(m, id));
  }
  std::unique_ptr<EngineClient> client;
  std::unique_ptr<engine::ControlChannel> engine;
};

control::Reply ok_reply(control::Type t) { return control::Reply{t, {}}; }

TEST(EngineClient, MatchesTheAnswerAndKeepsTheEventsThatCameBefore) {
  Pair p;
  std::thread engine([&] {
    const uint32_t id = p.next_request();
    p.send(control::DeviceLost{"wgnet-a", "gone"}, 0);
    p.send(ok_reply(control::Type::kSetMtu), id);
  });
  EXPECT_NO_THROW(p.client->call_ok(control::SetMtu{"wgnet-b", 1400}));
  engine.join();
  const auto events = p.client->take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].name, "wgnet-a");
  EXPECT_FALSE(p.client->broken());
}

TEST(EngineClient, ARefusalIsAnErrorNotABrokenEngine) {
  Pair p;
  std::thread engine([&] {
    p.send(control::Reply{control::Type::kRemoveDevice, {-ENODEV, "no device wgnet-b"}},
           p.next_request());
  });
  try {
    p.client->call_ok(control::RemoveDevice{"wgnet-b"});
    ADD_FAILURE() << "no EngineRefused";
  } catch (const EngineRefused& e) {
    EXPECT_EQ(e.error(), -ENODEV);
  }
  engine.join();
  EXPECT_FALSE(p.client->broken());
}

// Each way an engine can answer wrongly breaks the client (within `within`: a wrong answer at
// once, not after the deadline), and every later call fails at once.
void expect_broken_by(const std::function<void(Pair&, uint32_t id)>& misbehave,
                      std::chrono::milliseconds within = 200ms) {
  Pair p;
  std::thread engine([&] { misbehave(p, p.next_request()); });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(p.client->call(control::Get{"wgnet-b"}), EngineBroken);
  EXPECT_LT(std::chrono::steady_clock::now() - start, within);
  engine.join();
  EXPECT_TRUE(p.client->broken());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(p.client->call(control::Get{"wgnet-b"}), EngineBroken);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms) << "a broken client must not wait";
}

TEST(EngineClient, AnAnswerToARequestNotAskedBreaksIt) {
  // Again and again: were such answers skipped, each would restart the wait, for ever.
  expect_broken_by([](Pair& p, uint32_t id) {
    try {
      for (int i = 0; i < 20; i++) {
        p.send(ok_reply(control::Type::kGet), id + 7);
        std::this_thread::sleep_for(50ms);
      }
    } catch (const std::exception&) {
      // the client closed nothing, but a full buffer may time out: either way it stopped reading
    }
  });
}

TEST(EngineClient, AnAnswerWithoutAnIdBreaksIt) {
  expect_broken_by([](Pair& p, uint32_t) { p.send(ok_reply(control::Type::kGet), 0); });
}

TEST(EngineClient, BytesThatAreNoFrameBreakIt) {
  expect_broken_by([](Pair& p, uint32_t) {
    const uint8_t junk[] = {'n', 'o', 't', ' ', 'a', ' ', 'f', 'r', 'a', 'm', 'e', 0, 0, 0, 0, 0};
    p.engine->send_frame(junk);
  });
}

TEST(EngineClient, SilenceBreaksItAfterTheDeadline) {
  expect_broken_by([](Pair&, uint32_t) {}, 1000ms);  // the 300 ms deadline passes
}

TEST(EngineClient, EndOfFileBreaksIt) {
  expect_broken_by([](Pair& p, uint32_t) { p.engine.reset(); });
}

TEST(EngineClient, EndlessEventsBreakItInsteadOfGrowing) {
  expect_broken_by(
      [](Pair& p, uint32_t) {
        try {
          for (int i = 0; i < 5000; i++) p.send(control::DeviceLost{"wgnet-a", "again"}, 0);
        } catch (const std::exception&) {
          // the client stopped reading: it is broken
        }
      },
      // it reads 4096 events first (about 1 s under ASan)
      5000ms);
}

TEST(EngineClient, PendingReadsTakeEventsAndRefuseAnythingElse) {
  Pair p;
  p.send(control::DeviceLost{"wgnet-a", "gone"}, 0);
  EXPECT_NO_THROW(p.client->read_pending());
  EXPECT_EQ(p.client->take_events().size(), 1u);
  EXPECT_NO_THROW(p.client->read_pending()) << "nothing waiting is no error";
  p.send(ok_reply(control::Type::kInfo), 3);
  EXPECT_THROW(p.client->read_pending(), EngineBroken);
  EXPECT_TRUE(p.client->broken());
}

}  // namespace
}  // namespace wgnet::wg
