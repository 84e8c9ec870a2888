// The Linux runtime's Engine (its workers around one epoll set, the handshake tasks, the timerfd)
// without root: each interface's TUN and binds are engine_fakes.h's in-memory ones, polled
// through eventfds, on one MemoryNetwork; no link watch, the system clock or a fake one. What is
// asserted is what a user sees: packets across, counters, a removed interface gone quiet.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "crypto/dh.h"
#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "engine/linux/engine.h"
#include "engine_fakes.h"

using namespace wgnet;
using namespace wgnet::engine;
using namespace wgnet::engine::testing;
using namespace std::chrono_literals;

namespace {

constexpr auto kWait = 5000ms;

template <typename F>
bool eventually(F&& f, std::chrono::milliseconds timeout = kWait) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

// An engine of its own with one interface, "wg", whose UDP binds open at `address` of the network.
struct Node {
  Node(MemoryNetwork& net, const char* address, const Clock* clock)
      : binds(std::make_shared<MemoryBindFactory>(net, ip(address))) {
    EngineOptions o;
    o.workers = 2;
    o.link_watch = false;
    o.clock = clock;
    engine = std::make_unique<Engine>(o);
    auto t = std::make_unique<MemoryTun>();
    tun = t.get();
    AddOptions add;
    add.binds = binds;
    add.uapi = false;
    engine->add("wg", std::move(t), std::move(add));
  }
  DeviceCounters counters() const { return engine->info("wg").counters; }

  std::shared_ptr<MemoryBindFactory> binds;
  std::unique_ptr<Engine> engine;
  MemoryTun* tun = nullptr;  // the engine's, until remove("wg")
  crypto::Key priv = crypto::generate_private_key();
  crypto::Key pub = crypto::public_key(priv);
};

std::string hex(const crypto::Key& k) { return crypto::key_to_hex(k); }

class EngineEventLoop : public ::testing::Test {
 protected:
  // A (10.0.0.1, 198.18.0.1:51820) knows B's endpoint; B (10.0.0.2, 198.18.0.2:51821) learns A's
  // from the handshake. `a_peer`: more lines for A's peer B. B first: A may initiate at once.
  void start(const Clock* clock = nullptr, const std::string& a_peer = "") {
    a = std::make_unique<Node>(net, "198.18.0.1", clock);
    b = std::make_unique<Node>(net, "198.18.0.2", clock);
    ASSERT_EQ(b->engine->uapi_set("wg", "private_key=" + hex(b->priv) +
                                            "\nlisten_port=51821\npublic_key=" + hex(a->pub) +
                                            "\nallowed_ip=10.0.0.1/32\n\n"),
              0);
    ASSERT_EQ(a->engine->uapi_set("wg", "private_key=" + hex(a->priv) +
                                            "\nlisten_port=51820\npublic_key=" + hex(b->pub) +
                                            "\nendpoint=198.18.0.2:51821\n"
                                            "allowed_ip=10.0.0.2/32\n" +
                                            a_peer + "\n"),
              0);
  }

  // Datagrams sent from `address` so far.
  size_t sent_from(const char* address) {
    std::lock_guard lock(net.mu);
    size_t n = 0;
    for (const auto& d : net.log) n += d.from.remote.address == ip(address);
    return n;
  }
  size_t datagrams() {
    std::lock_guard lock(net.mu);
    return net.log.size();
  }

  // First: they outlive the engines (their threads, their binds).
  MemoryNetwork net;
  FakeClock clock;  // for the engines that use it, and hand-stepped devices
  std::unique_ptr<Node> a, b;
};

TEST_F(EngineEventLoop, PacketsCrossBothWaysAfterAHandshake) {
  start();
  const Bytes ping = ipv4("10.0.0.1", "10.0.0.2", 100, 0x11);
  a->tun->inject(ping);
  auto at_b = b->tun->wait_written(1, kWait);
  ASSERT_EQ(at_b.size(), 1u) << "the packet never came out of B's TUN";
  EXPECT_EQ(at_b[0], ping);

  // B answers through the session (and the endpoint) it learned from A.
  const Bytes pong = ipv4("10.0.0.2", "10.0.0.1", 1000, 0x22);
  b->tun->inject(pong);
  auto at_a = a->tun->wait_written(1, kWait);
  ASSERT_EQ(at_a.size(), 1u);
  EXPECT_EQ(at_a[0], pong);

  // A batch larger than a worker's: every packet, intact, none lost.
  std::vector<Bytes> burst;
  for (int k = 0; k < 300; k++) {
    burst.push_back(ipv4("10.0.0.1", "10.0.0.2", 64 + k % 50, static_cast<uint8_t>(k)));
    a->tun->inject(burst.back());
  }
  at_b = b->tun->wait_written(1 + burst.size(), kWait);
  ASSERT_EQ(at_b.size(), 1 + burst.size());
  std::vector<Bytes> got(at_b.begin() + 1, at_b.end());
  std::sort(got.begin(), got.end());
  std::sort(burst.begin(), burst.end());
  EXPECT_EQ(got, burst);

  EXPECT_EQ(a->counters().handshakes_completed + b->counters().handshakes_completed, 2u);
  EXPECT_EQ(b->engine->status("wg").peers.at(0).endpoint->port, 51820);
}

TEST_F(EngineEventLoop, DevicesAndDeadlinesRunOnTheInjectedClock) {
  start(&clock, "persistent_keepalive_interval=1\n");
  a->tun->inject(ipv4("10.0.0.1", "10.0.0.2", 10));
  ASSERT_EQ(b->tun->wait_written(1, kWait).size(), 1u);
  // The handshake's time is the fake clock's.
  const auto wall = FakeClock::kWallStart.time_since_epoch();
  EXPECT_EQ(a->engine->status("wg").peers.at(0).last_handshake_sec,
            std::chrono::duration_cast<std::chrono::seconds>(wall).count());

  // A's persistent keepalive is due 1 s after its last send (it sent some when configured and
  // when the session came up), on the fake clock: it stands still, so no other is sent however
  // long we wait, and one is once it moved.
  std::this_thread::sleep_for(200ms);
  const uint64_t sent = a->counters().keepalives_sent;
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(a->counters().keepalives_sent, sent) << "a timer ran on real time";
  clock.advance(1s);
  EXPECT_TRUE(eventually([&] { return a->counters().keepalives_sent > sent; }))
      << "the timer never ran after the clock moved";
}

TEST_F(EngineEventLoop, PacketForNoPeerIsDroppedAndCounted) {
  start();
  a->tun->inject(ipv4("10.0.0.1", "10.0.0.99", 10));
  ASSERT_TRUE(eventually([&] { return a->counters().no_route == 1; }));
  EXPECT_EQ(datagrams(), 0u) << "nothing may leave for an address no peer owns";

  // The loop goes on: the next packet for a peer is carried.
  a->tun->inject(ipv4("10.0.0.1", "10.0.0.2", 10));
  EXPECT_EQ(b->tun->wait_written(1, kWait).size(), 1u);
}

TEST_F(EngineEventLoop, InitiationFromAnUnknownKeyIsDroppedAndCounted) {
  start();
  // A core Device stepped by hand, with A as its peer; A does not know its key.
  DeviceNode stranger(net, clock, ip("198.18.0.3"));
  ASSERT_EQ(stranger.dev.uapi_set("private_key=" + hex(stranger.priv) +
                                  "\nlisten_port=51823\npublic_key=" + hex(a->pub) +
                                  "\nendpoint=198.18.0.1:51820\nallowed_ip=10.0.0.1/32\n\n"),
            0);
  stranger.dev.up();
  stranger.tun.from_host.push_back(ipv4("10.0.0.3", "10.0.0.1", 10));
  stranger.step();
  ASSERT_EQ(stranger.dev.counters().initiations_sent, 1u);

  EXPECT_TRUE(eventually([&] { return a->counters().handshake_failed == 1; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(sent_from("198.18.0.1"), 0u) << "A answered a key it does not know";
  EXPECT_EQ(a->counters().responses_sent, 0u);
}

TEST_F(EngineEventLoop, ListenPortChangeMovesTheTrafficToTheNewBind) {
  start();
  a->tun->inject(ipv4("10.0.0.1", "10.0.0.2", 10));
  ASSERT_EQ(b->tun->wait_written(1, kWait).size(), 1u);

  ASSERT_EQ(b->engine->uapi_set("wg", "listen_port=51999\n\n"), 0);
  ASSERT_EQ(
      a->engine->uapi_set("wg", "public_key=" + hex(b->pub) + "\nendpoint=198.18.0.2:51999\n\n"),
      0);
  // The old bind closes once no worker uses it any more: soon, not at once.
  EXPECT_TRUE(eventually([&] {
    return !net.in_use({ip("198.18.0.2"), 51821});
  })) << "the old bind is still open";
  a->tun->inject(ipv4("10.0.0.1", "10.0.0.2", 20));
  EXPECT_EQ(b->tun->wait_written(2, kWait).size(), 2u) << "nothing read from the new bind";
}

TEST_F(EngineEventLoop, RemovedInterfaceCarriesNothing) {
  // B keeps A's session alive with a keepalive a second: traffic that only its timers make.
  start();
  ASSERT_EQ(b->engine->uapi_set(
                "wg", "public_key=" + hex(a->pub) + "\npersistent_keepalive_interval=1\n\n"),
            0);
  a->tun->inject(ipv4("10.0.0.1", "10.0.0.2", 10));
  ASSERT_EQ(b->tun->wait_written(1, kWait).size(), 1u);
  ASSERT_TRUE(eventually([&] { return b->counters().keepalives_sent >= 1; }));

  ASSERT_TRUE(b->engine->remove("wg"));
  b->tun = nullptr;
  EXPECT_FALSE(b->engine->contains("wg"));
  EXPECT_FALSE(net.in_use({ip("198.18.0.2"), 51821})) << "its bind is still open";
  const size_t from_b = sent_from("198.18.0.2");
  // A's packets now go nowhere; B's timers no longer send anything.
  a->tun->inject(ipv4("10.0.0.1", "10.0.0.2", 10));
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(sent_from("198.18.0.2"), from_b) << "a removed interface still sends";
  EXPECT_THROW(b->engine->info("wg"), InputError);
  std::lock_guard lock(net.mu);
  EXPECT_EQ(net.log.back().to.remote, (wg::Endpoint{ip("198.18.0.2"), 51821}))
      << "A's packet was not sent, so this shows nothing";
}

}  // namespace
