// Two devices joined by an in-memory UDP network, with in-memory TUNs and a fake clock: the
// protocol end to end — handshakes either way, data, keepalives, rekeying, expiry, retransmits,
// zeroed keys, persistent keepalive, roaming, cookies under load, rate limiting, cryptokey
// routing, preshared keys, replay, and the ordered three-stage data path.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "crypto/dh.h"
#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "engine/device.h"
#include "engine_fakes.h"

using namespace wgnet;
using namespace wgnet::engine;
using namespace wgnet::engine::testing;
using namespace std::chrono_literals;

namespace {

Bytes ipv6(const char* src, const char* dst, size_t payload) {
  Bytes p(40 + payload, 0xcd);
  p[0] = 0x60;
  p[4] = static_cast<uint8_t>(payload >> 8);
  p[5] = static_cast<uint8_t>(payload);
  p[6] = 17;
  p[7] = 64;
  const IpAddress s = ip(src), d = ip(dst);
  std::copy(s.bytes().begin(), s.bytes().end(), p.begin() + 8);
  std::copy(d.bytes().begin(), d.bytes().end(), p.begin() + 24);
  return p;
}

std::string hex(const crypto::Key& k) { return crypto::key_to_hex(k); }

DeviceOptions default_options() { return {}; }

class EngineDevice : public ::testing::Test {
 protected:
  void make(DeviceOptions a_options = default_options(),
            DeviceOptions b_options = default_options()) {
    a = std::make_unique<DeviceNode>(net, clock, ip("198.18.0.1"), std::move(a_options));
    b = std::make_unique<DeviceNode>(net, clock, ip("198.18.0.2"), std::move(b_options));
  }

  // A knows B's endpoint; B learns A's from the handshake (unless `b_knows_a`).
  void configure(bool b_knows_a = false, std::string a_extra = "", std::string b_extra = "") {
    ASSERT_EQ(a->dev.uapi_set("private_key=" + hex(a->priv) +
                              "\nlisten_port=51820\npublic_key=" + hex(b->pub) +
                              "\nendpoint=198.18.0.2:51821\nallowed_ip=10.0.0.2/32\n"
                              "allowed_ip=fd00::2/128\n" +
                              a_extra + "\n"),
              0);
    ASSERT_EQ(b->dev.uapi_set("private_key=" + hex(b->priv) +
                              "\nlisten_port=51821\npublic_key=" + hex(a->pub) + "\n" +
                              (b_knows_a ? "endpoint=198.18.0.1:51820\n" : "") +
                              "allowed_ip=10.0.0.1/32\nallowed_ip=fd00::1/128\n" + b_extra + "\n"),
              0);
    a->dev.up();
    b->dev.up();
  }

  void pump() {
    for (int i = 0; i < 10000; i++) {
      bool moved = a->step();
      moved = b->step() || moved;
      if (!moved) return;
    }
    FAIL() << "the network never went quiet";
  }

  // Moves time forward in `step`s, running timers and I/O after each.
  void advance(std::chrono::nanoseconds total, std::chrono::nanoseconds step = 1s) {
    while (total > std::chrono::nanoseconds::zero()) {
      const auto d = std::min(step, total);
      clock.advance(d);
      total -= d;
      a->dev.run_timers();
      b->dev.run_timers();
      pump();
    }
  }

  void handshake() {
    a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 64));
    pump();
    ASSERT_EQ(b->tun.to_host.size(), 1u);
    b->tun.to_host.clear();
  }

  // A sends a packet to B (with a session up); returns its transport datagram as it crossed.
  MemoryNetwork::Datagram data_a_to_b() {
    a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
    const size_t mark = net.log.size();
    pump();
    EXPECT_GT(net.log.size(), mark);
    EXPECT_EQ(net.log[mark].bytes[0], 4);
    return net.log[mark];
  }

  // Datagrams in the log from `from` (an address), of `size` bytes (0: any), of `type` (0: any).
  size_t sent(const char* from, size_t size = 0, uint8_t type = 0, size_t since = 0) const {
    size_t n = 0;
    for (size_t i = since; i < net.log.size(); i++) {
      const auto& d = net.log[i];
      if (d.from.remote.address == ip(from) && (!size || d.bytes.size() == size) &&
          (!type || d.bytes[0] == type))
        n++;
    }
    return n;
  }

  // Numbered packets from A's TUN, sent by several worker threads as an event loop runs them:
  // one at a time takes the read slot and prepares a batch, then encrypts and completes it on its
  // own.
  struct NumberedSource {
    std::mutex read_slot;
    int next_batch = 0;
    int batches = 0, per_batch = 0;
  };
  void send_numbered(NumberedSource& src) {
    Buffers bufs(static_cast<size_t>(src.per_batch));
    OutboundBatch batch;
    for (;;) {
      {
        std::lock_guard lock(src.read_slot);
        if (src.next_batch == src.batches) return;
        batch.wait();
        auto ps = bufs.reset();
        for (int i = 0; i < src.per_batch; i++) {
          Bytes pkt = ipv4("10.0.0.1", "10.0.0.2", 8);
          const uint32_t seq = static_cast<uint32_t>(src.next_batch * src.per_batch + i);
          std::memcpy(pkt.data() + 20, &seq, 4);
          fill(ps[static_cast<size_t>(i)], pkt);
        }
        src.next_batch++;
        a->dev.prepare_outbound(ps, batch);
      }
      a->dev.encrypt(batch);
      a->dev.complete(batch);
    }
  }
  void expect_numbered_in_order(size_t total) {
    ASSERT_EQ(b->tun.to_host.size(), total);
    for (size_t i = 0; i < total; i++) {
      uint32_t seq;
      std::memcpy(&seq, b->tun.to_host[i].data() + 20, 4);
      ASSERT_EQ(seq, i);
    }
  }

  FakeClock clock;
  MemoryNetwork net;
  std::unique_ptr<DeviceNode> a, b;
};

}  // namespace

TEST_F(EngineDevice, InitiatorHandshakeThenDataBothWays) {
  make();
  configure();
  const Bytes first = ipv4("10.0.0.1", "10.0.0.2", 100);
  a->tun.from_host.push_back(first);
  pump();
  ASSERT_EQ(b->tun.to_host.size(), 1u);
  EXPECT_EQ(b->tun.to_host[0], first);  // padding stripped, bytes intact
  EXPECT_EQ(sent("198.18.0.1", 148, 1), 1u);
  EXPECT_EQ(sent("198.18.0.2", 92, 2), 1u);
  // 120 bytes padded to 128, plus header and tag.
  EXPECT_EQ(sent("198.18.0.1", 16 + 128 + 16, 4), 1u);

  const Bytes reply = ipv6("fd00::2", "fd00::1", 33);
  b->tun.from_host.push_back(reply);
  pump();
  ASSERT_EQ(a->tun.to_host.size(), 1u);
  EXPECT_EQ(a->tun.to_host[0], reply);

  auto ca = a->dev.counters(), cb = b->dev.counters();
  EXPECT_EQ(ca.initiations_sent, 1u);
  EXPECT_EQ(ca.handshakes_completed, 1u);
  EXPECT_EQ(cb.responses_sent, 1u);
  EXPECT_EQ(cb.handshakes_completed, 1u);  // confirmed by A's first packet
  auto sa = a->dev.status(), sb = b->dev.status();
  ASSERT_EQ(sb.peers.size(), 1u);
  ASSERT_TRUE(sb.peers[0].endpoint);
  EXPECT_EQ(sb.peers[0].endpoint->str(), "198.18.0.1:51820");  // learned from the handshake
  EXPECT_EQ(sa.peers[0].last_handshake_sec, 1'700'000'000);
  EXPECT_GT(sa.peers[0].tx_bytes, 148u + 160u - 1);
  EXPECT_EQ(sa.peers[0].rx_bytes, sb.peers[0].tx_bytes);
  EXPECT_EQ(sb.peers[0].rx_bytes, sa.peers[0].tx_bytes);
}

TEST_F(EngineDevice, ResponderSideInitiates) {
  make();
  configure(/*b_knows_a=*/true);
  const Bytes p = ipv4("10.0.0.2", "10.0.0.1", 10);
  b->tun.from_host.push_back(p);
  pump();
  ASSERT_EQ(a->tun.to_host.size(), 1u);
  EXPECT_EQ(a->tun.to_host[0], p);
  EXPECT_EQ(sent("198.18.0.2", 148, 1), 1u);
  EXPECT_EQ(sent("198.18.0.1", 92, 2), 1u);
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();
  EXPECT_EQ(b->tun.to_host.size(), 1u);
  EXPECT_EQ(a->dev.counters().initiations_sent, 0u);  // A answered; it never initiated
}

TEST_F(EngineDevice, PacketsWithoutARouteOrMalformedAreDropped) {
  make();
  configure();
  handshake();
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.3", 10));  // nobody owns 10.0.0.3
  a->tun.from_host.push_back(Bytes(30, 0x11));                   // not IP
  pump();
  EXPECT_EQ(a->dev.counters().no_route, 1u);
  EXPECT_EQ(a->dev.counters().invalid_packet, 1u);
  EXPECT_TRUE(b->tun.to_host.empty());
  // Garbage datagrams of every kind cost nothing but a counter.
  const size_t before = b->dev.counters().malformed;
  b->bind()->inbox.push_back({NetEndpoint{{ip("198.18.0.66"), 1}, {}, 0}, {}, Bytes(10, 4)});
  b->bind()->inbox.push_back({NetEndpoint{{ip("198.18.0.66"), 1}, {}, 0}, {}, Bytes(147, 0)});
  b->bind()->inbox.push_back(
      {NetEndpoint{{ip("198.18.0.66"), 1}, {}, 0}, {}, Bytes{1, 0, 0, 0, 9, 9}});
  Bytes unknown(64, 0);
  unknown[0] = 4;
  b->bind()->inbox.push_back({NetEndpoint{{ip("198.18.0.66"), 1}, {}, 0}, {}, unknown});
  pump();
  EXPECT_EQ(b->dev.counters().malformed, before + 3);
  EXPECT_EQ(b->dev.counters().unknown_index, 1u);
}

TEST_F(EngineDevice, KeepaliveTenSecondsAfterReceivingData) {
  make();
  configure();
  handshake();
  advance(30s);  // the handshake's own keepalive comes and goes
  const size_t mark = net.log.size();
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();
  EXPECT_EQ(sent("198.18.0.2", 32, 4, mark), 0u);
  advance(9s);
  EXPECT_EQ(sent("198.18.0.2", 32, 4, mark), 0u);
  advance(1s);
  EXPECT_EQ(sent("198.18.0.2", 32, 4, mark), 1u);  // B had nothing to say: a keepalive
  EXPECT_TRUE(a->tun.to_host.empty());             // keepalives reach no TUN
  // The keepalive answered A's data, so A starts no new handshake at 15 s, and B sends no more.
  advance(30s);
  EXPECT_EQ(a->dev.counters().initiations_sent, 1u);
  EXPECT_EQ(sent("198.18.0.2", 32, 4, mark), 1u);
  // Data received while a keepalive is pending asks for one more after it.
  const size_t mark2 = net.log.size();
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();
  advance(5s);
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();
  advance(30s);
  EXPECT_EQ(sent("198.18.0.2", 32, 4, mark2), 2u);
}

TEST_F(EngineDevice, NewHandshakeWhenDataGetsNoAnswer) {
  make();
  configure();
  handshake();
  advance(20s);  // let the handshake's keepalive timers pass
  net.filter = [](const MemoryNetwork::Datagram& d) { return d.from.remote.port != 51821; };
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();
  advance(14s);
  EXPECT_EQ(a->dev.counters().initiations_sent, 1u);
  advance(2s);  // KEEPALIVE + REKEY_TIMEOUT (+ jitter ≤ 333 ms) without a word from B
  EXPECT_EQ(a->dev.counters().initiations_sent, 2u);
}

TEST_F(EngineDevice, RekeyAfterRekeyAfterTime) {
  make();
  configure();
  handshake();
  advance(119s, 10s);
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();
  EXPECT_EQ(a->dev.counters().initiations_sent, 1u);
  advance(2s);
  const size_t mark = net.log.size();
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();
  // Sent under the old session, then a new handshake because the session is 121 s old.
  EXPECT_EQ(b->tun.to_host.size(), 2u);
  EXPECT_EQ(a->dev.counters().initiations_sent, 2u);
  EXPECT_EQ(a->dev.counters().handshakes_completed, 2u);
  EXPECT_EQ(sent("198.18.0.1", 148, 1, mark), 1u);
  // The next packet goes under the new session: another receiver index.
  const uint32_t old_index = load_le32(net.log[mark].bytes.data() + 4);
  const size_t mark2 = net.log.size();
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();
  ASSERT_EQ(b->tun.to_host.size(), 3u);
  ASSERT_GT(net.log.size(), mark2);
  EXPECT_EQ(net.log[mark2].bytes[0], 4);
  EXPECT_NE(load_le32(net.log[mark2].bytes.data() + 4), old_index);
}

TEST_F(EngineDevice, RejectAfterTimeStopsUsingAndAcceptingASession) {
  make();
  configure();
  handshake();
  const auto old = data_a_to_b();  // a datagram of this session
  b->tun.to_host.clear();

  advance(180s, 5s);  // idle (B's keepalive at 10 s answered A's data)
  const size_t before = net.log.size();
  const uint64_t staged = a->dev.counters().staged;
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  a->step();
  // The session is 180 s old: the packet waits and a handshake goes out instead.
  ASSERT_EQ(net.log.size(), before + 1);
  EXPECT_EQ(net.log[before].bytes[0], 1);
  EXPECT_EQ(a->dev.counters().staged, staged + 1);
  // The expired session's packets are refused on the other side too.
  b->bind()->inbox.push_back(old);
  pump();
  EXPECT_EQ(b->dev.counters().expired_keypair, 1u);
  // The new session carried the staged packet.
  ASSERT_EQ(b->tun.to_host.size(), 1u);
  EXPECT_EQ(a->dev.counters().handshakes_completed, 2u);
}

TEST_F(EngineDevice, RetransmitsWithJitterThenGivesUp) {
  make();
  configure();
  net.filter = [](const MemoryNetwork::Datagram&) { return false; };
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();
  EXPECT_EQ(a->dev.counters().initiations_sent, 1u);
  // Every retransmission comes REKEY_TIMEOUT plus at most 333 ms after the previous one.
  for (int i = 1; i <= 18; i++) {
    advance(4900ms, 4900ms);
    EXPECT_EQ(a->dev.counters().initiations_sent, static_cast<uint64_t>(i)) << i;
    advance(450ms, 450ms);
    EXPECT_EQ(a->dev.counters().initiations_sent, static_cast<uint64_t>(i + 1)) << i;
  }
  // After 18 retries it gives up and drops the staged packet.
  advance(60s);
  EXPECT_EQ(a->dev.counters().initiations_sent, 19u);
  EXPECT_EQ(a->dev.counters().staged_dropped, 1u);
  // New traffic starts over.
  net.filter = nullptr;
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();
  EXPECT_EQ(b->tun.to_host.size(), 1u);
}

TEST_F(EngineDevice, KeysAreZeroedAfterThreeRejectAfterTimes) {
  make();
  configure();
  handshake();
  const auto old = data_a_to_b();
  advance(539s, 5s);
  // Still known (and expired): refused as too old.
  b->bind()->inbox.push_back(old);
  pump();
  EXPECT_EQ(b->dev.counters().expired_keypair, 1u);
  advance(2s);
  // Zeroed: the index is gone altogether.
  b->bind()->inbox.push_back(old);
  pump();
  EXPECT_EQ(b->dev.counters().unknown_index, 1u);
  // And A needs a new handshake for new data.
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();
  EXPECT_EQ(a->dev.counters().initiations_sent, 2u);
  EXPECT_EQ(b->tun.to_host.size(), 2u);
}

TEST_F(EngineDevice, PersistentKeepalive) {
  make();
  configure();
  const size_t mark = net.log.size();
  // Turning it on sends one at once (which needs a handshake first).
  ASSERT_EQ(a->dev.uapi_set("public_key=" + hex(b->pub) + "\npersistent_keepalive_interval=25\n\n"),
            0);
  pump();
  EXPECT_EQ(sent("198.18.0.1", 148, 1, mark), 1u);
  EXPECT_EQ(sent("198.18.0.1", 32, 4, mark), 1u);
  const size_t mark2 = net.log.size();
  advance(24s);
  EXPECT_EQ(sent("198.18.0.1", 32, 4, mark2), 0u);
  advance(1s);
  EXPECT_EQ(sent("198.18.0.1", 32, 4, mark2), 1u);
  advance(50s);
  EXPECT_EQ(sent("198.18.0.1", 32, 4, mark2), 3u);
  EXPECT_EQ(a->dev.status().peers[0].persistent_keepalive, 25);
}

TEST_F(EngineDevice, RoamingFollowsTheLastAuthenticatedSource) {
  make();
  configure();
  handshake();
  // A moves: another address and port.
  a->binds.move_to(ip("198.18.0.9"));
  ASSERT_EQ(a->dev.uapi_set("listen_port=51830\n\n"), 0);
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();
  ASSERT_EQ(b->tun.to_host.size(), 1u);
  EXPECT_EQ(b->dev.status().peers[0].endpoint->str(), "198.18.0.9:51830");
  b->tun.from_host.push_back(ipv4("10.0.0.2", "10.0.0.1", 10));
  pump();
  EXPECT_EQ(a->tun.to_host.size(), 1u);  // the reply found A at its new place
  // A forged packet from elsewhere does not move it (it does not authenticate).
  Bytes forged(64, 0);
  forged[0] = 4;
  b->bind()->inbox.push_back({NetEndpoint{{ip("198.18.0.66"), 7}, {}, 0}, {}, forged});
  pump();
  EXPECT_EQ(b->dev.status().peers[0].endpoint->str(), "198.18.0.9:51830");
}

TEST_F(EngineDevice, CookieRepliesUnderLoadThenMac2GetsThrough) {
  DeviceOptions small;
  small.handshake_queue_size = 16;  // under load from 2 queued messages
  make(default_options(), small);
  configure();
  // A's first initiation, and a flood of copies of it from an attacker, reach B together.
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  a->step();
  ASSERT_EQ(b->bind()->inbox.size(), 1u);
  const Bytes initiation = b->bind()->inbox.front().bytes;
  for (int i = 0; i < 8; i++)
    b->bind()->inbox.push_back({NetEndpoint{{ip("198.18.0.66"), 1000}, {}, 0}, {}, initiation});
  pump();
  auto cb = b->dev.counters();
  EXPECT_EQ(cb.cookie_replies_sent, 9u);  // everyone was asked for a cookie first
  EXPECT_EQ(cb.responses_sent, 0u);
  EXPECT_EQ(a->dev.counters().cookie_replies_accepted, 1u);
  EXPECT_TRUE(b->tun.to_host.empty());
  // A's endpoint did not move to where a cookie came from (it came from B anyway); the next
  // initiation, sent with the flood still going, carries mac2 and is served.
  const size_t mark = net.log.size();
  clock.advance(5400ms);
  a->dev.run_timers();  // retransmits, with mac2
  ASSERT_EQ(sent("198.18.0.1", 148, 1, mark), 1u);
  const Bytes retry = net.log.back().bytes;
  EXPECT_FALSE(std::all_of(retry.end() - 16, retry.end(), [](uint8_t x) { return x == 0; }));
  for (int i = 0; i < 3; i++)
    b->bind()->inbox.push_back({NetEndpoint{{ip("198.18.0.66"), 1000}, {}, 0}, {}, initiation});
  pump();
  EXPECT_EQ(b->dev.counters().responses_sent, 1u);
  EXPECT_EQ(b->dev.counters().cookie_replies_sent, 12u);
  ASSERT_EQ(b->tun.to_host.size(), 1u);
  EXPECT_EQ(a->dev.counters().handshakes_completed, 1u);
}

TEST_F(EngineDevice, CookieReplyDoesNotMoveTheEndpoint) {
  make();
  configure();
  const size_t mark = net.log.size();
  net.filter = [](const MemoryNetwork::Datagram&) { return false; };
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();
  ASSERT_EQ(sent("198.18.0.1", 148, 1, mark), 1u);
  const Bytes initiation = net.log.back().bytes;
  // A valid cookie reply for that initiation, arriving from somewhere else.
  CookieChecker checker;
  checker.init(b->pub);
  auto reply = checker.make_reply(initiation, load_le32(initiation.data() + 4),
                                  {ip("198.18.0.1"), 51820}, clock.now());
  auto rb = bytes_of(reply);
  a->bind()->inbox.push_back(
      {NetEndpoint{{ip("198.18.0.77"), 999}, {}, 0}, {}, Bytes(rb.begin(), rb.end())});
  pump();
  EXPECT_EQ(a->dev.counters().cookie_replies_accepted, 1u);
  EXPECT_EQ(a->dev.status().peers[0].endpoint->str(), "198.18.0.2:51821");
}

TEST_F(EngineDevice, RateLimitedUnderLoad) {
  DeviceOptions tiny;
  tiny.handshake_queue_size = 8;  // one queued message is load
  make(default_options(), tiny);
  configure();
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();  // cookie reply
  EXPECT_EQ(b->dev.counters().cookie_replies_sent, 1u);
  const size_t mark = net.log.size();
  clock.advance(5400ms);
  a->dev.run_timers();
  ASSERT_EQ(sent("198.18.0.1", 148, 1, mark), 1u);
  const Bytes with_mac2 = net.log.back().bytes;
  // The real one plus nine replays of it from A's own address (so mac2 is valid) arrive in one
  // batch: two find the queue full; of the eight queued, five pass the rate limiter (the burst;
  // the replays among them then fail as replays) and three do not.
  for (int i = 0; i < 9; i++)
    b->bind()->inbox.push_back({NetEndpoint{{ip("198.18.0.1"), 51820}, {}, 0}, {}, with_mac2});
  pump();
  auto cb = b->dev.counters();
  EXPECT_EQ(cb.handshake_queue_full, 2u);
  EXPECT_EQ(cb.rate_limited, 3u);
  EXPECT_EQ(cb.responses_sent, 1u);
  EXPECT_EQ(cb.handshake_failed, 4u);
  EXPECT_EQ(b->tun.to_host.size(), 1u);
}

TEST_F(EngineDevice, InnerSourceOutsideAllowedIpsIsDropped) {
  make();
  configure();
  handshake();
  a->tun.from_host.push_back(ipv4("10.9.9.9", "10.0.0.2", 10));  // A may not send from there
  a->tun.from_host.push_back(ipv6("fd00::1", "fd00::2", 10));    // but from here it may
  pump();
  EXPECT_EQ(b->dev.counters().source_not_allowed, 1u);
  ASSERT_EQ(b->tun.to_host.size(), 1u);
  EXPECT_EQ(b->tun.to_host[0][0] >> 4, 6);
}

TEST_F(EngineDevice, PresharedKeys) {
  make();
  const std::string psk = hex(crypto::generate_private_key());
  configure(false, "preshared_key=" + psk + "\n", "preshared_key=" + psk + "\n");
  handshake();
  EXPECT_TRUE(a->dev.status().peers[0].has_preshared_key);
  EXPECT_FALSE(a->dev.status().peers[0].preshared_key);  // no secrets in status()
  // Now B's differs: A cannot verify B's response.
  ASSERT_EQ(b->dev.uapi_set("public_key=" + hex(a->pub) +
                            "\npreshared_key=" + hex(crypto::generate_private_key()) + "\n\n"),
            0);
  clock.advance(121s);
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();  // the packet goes under the old session and triggers a rekey, which fails
  EXPECT_EQ(a->dev.counters().initiations_sent, 2u);
  EXPECT_EQ(a->dev.counters().handshake_failed, 1u);
  EXPECT_EQ(a->dev.counters().handshakes_completed, 1u);
}

TEST_F(EngineDevice, ReplayedDatagramIsDropped) {
  make();
  configure();
  handshake();
  const auto sent_once = data_a_to_b();
  ASSERT_EQ(b->tun.to_host.size(), 1u);
  b->bind()->inbox.push_back(sent_once);
  auto tampered = sent_once;
  tampered.bytes[20] ^= 1;
  b->bind()->inbox.push_back(tampered);
  pump();
  EXPECT_EQ(b->dev.counters().replayed, 1u);
  EXPECT_EQ(b->dev.counters().decrypt_failed, 1u);
  EXPECT_EQ(b->tun.to_host.size(), 1u);
}

TEST_F(EngineDevice, StagesAreOrderedPerPeer) {
  make();
  configure();
  handshake();
  // Two batches from the TUN: the second finishes its crypto first, but nothing leaves before the
  // first, and then both leave in order.
  Buffers one(2), two(2);
  auto p1 = one.reset(), p2 = two.reset();
  for (int i = 0; i < 2; i++) {
    fill(p1[i], ipv4("10.0.0.1", "10.0.0.2", 10, static_cast<uint8_t>(i)));
    fill(p2[i], ipv4("10.0.0.1", "10.0.0.2", 10, static_cast<uint8_t>(2 + i)));
  }
  OutboundBatch first, second;
  a->dev.prepare_outbound(p1, first);
  a->dev.prepare_outbound(p2, second);
  a->dev.encrypt(second);
  const size_t mark = net.log.size();
  a->dev.complete(second);
  EXPECT_EQ(net.log.size(), mark);
  EXPECT_TRUE(second.in_flight());
  a->dev.encrypt(first);
  a->dev.complete(first);
  EXPECT_FALSE(first.in_flight());
  EXPECT_FALSE(second.in_flight());
  ASSERT_EQ(net.log.size(), mark + 4);
  for (size_t i = 0; i < 4; i++)
    EXPECT_EQ(load_le64(net.log[mark + i].bytes.data() + 8),
              load_le64(net.log[mark].bytes.data() + 8) + i);

  // The same on receive: B completes the later batch first; the TUN sees the order sent.
  Buffers r1(2), r2(2);
  auto d1 = r1.reset(), d2 = r2.reset();
  std::vector<NetEndpoint> from(4);
  for (size_t i = 0; i < 4; i++) {
    auto& dg = b->bind()->inbox.front();
    fill(i < 2 ? d1[i] : d2[i - 2], dg.bytes);
    from[i] = dg.from;
    b->bind()->inbox.pop_front();
  }
  InboundBatch in1, in2;
  b->dev.prepare_inbound(d1, {from.data(), 2}, in1);
  b->dev.prepare_inbound(d2, {from.data() + 2, 2}, in2);
  b->dev.decrypt(in2);
  b->dev.complete(in2);
  EXPECT_TRUE(b->tun.to_host.empty());
  b->dev.decrypt(in1);
  b->dev.complete(in1);
  ASSERT_EQ(b->tun.to_host.size(), 4u);
  for (size_t i = 0; i < 4; i++) EXPECT_EQ(b->tun.to_host[i].back(), i);
}

TEST_F(EngineDevice, WorkersInParallelKeepPerPeerOrder) {
  make();
  configure();
  handshake();
  NumberedSource src;
  src.batches = 200;
  src.per_batch = 8;
  std::thread t1([&] { send_numbered(src); }), t2([&] { send_numbered(src); });
  t1.join();
  t2.join();
  pump();
  expect_numbered_in_order(200 * 8);
  EXPECT_EQ(b->dev.counters().replayed, 0u);
}

TEST_F(EngineDevice, DataConfigurationAndTimersConcurrently) {
  // Not a timing test: it gives ThreadSanitizer (WGNET_TSAN builds) every entry point at once —
  // two senders, a receiver, configuration, status and timers — and checks nothing is lost.
  make();
  configure();
  handshake();
  NumberedSource src;
  src.batches = 300;
  src.per_batch = 4;
  std::atomic<int> senders{2};
  auto sender = [&] {
    send_numbered(src);
    senders--;
  };
  auto receiver = [&] {
    Buffers bufs(8);
    InboundBatch batch;
    std::vector<NetEndpoint> from(8);
    for (;;) {
      const bool done = senders == 0;
      auto ps = bufs.reset();
      const size_t n = b->bind()->receive(ps, from);
      if (n) b->dev.receive(ps.first(n), {from.data(), n}, batch);
      b->dev.process_handshakes();
      if (done && !n) break;
    }
  };
  auto configurer = [&] {
    // Paced: every pass turns the keepalive on again, which sends one (as wireguard-go does), and
    // an unpaced loop on a slow machine queued them faster than the senders' draining delivered
    // them (200,000 queued, gigabytes, senders never done: seen on a 2-CPU machine).
    while (senders > 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      EXPECT_EQ(a->dev.uapi_set("public_key=" + hex(b->pub) +
                                "\npersistent_keepalive_interval=1\nallowed_ip=10.9.0.0/16\n\n"),
                0);
      (void)a->dev.status();
      std::string reply = a->dev.uapi_get();
      crypto::wipe(reply.data(), reply.size());
      (void)b->dev.counters();
      a->dev.run_timers();
      b->dev.run_timers();
      EXPECT_EQ(a->dev.uapi_set("public_key=" + hex(b->pub) +
                                "\npersistent_keepalive_interval=0\nallowed_ip=-10.9.0.0/16\n\n"),
                0);
    }
  };
  std::thread t1(sender), t2(sender), t3(receiver), t4(configurer);
  t1.join();
  t2.join();
  t3.join();
  t4.join();
  pump();
  expect_numbered_in_order(300 * 4);
}

TEST_F(EngineDevice, GarbageCostsCountersNotMemoryAndTheTunnelSurvives) {
  DeviceOptions bounded;
  bounded.handshake_queue_size = 64;
  make(default_options(), bounded);
  configure();
  handshake();
  const auto captured = data_a_to_b();
  // Every kind of datagram, mangled: random sizes and bytes behind valid-looking type fields,
  // and bit flips of real messages. Processed in batches without draining the handshake queue
  // in between, so it fills.
  uint32_t x = 7;
  auto next = [&] { return x = x * 1664525 + 1013904223; };
  const size_t sizes[] = {0, 1, 4, 31, 32, 33, 63, 64, 65, 91, 92, 93, 147, 148, 149, 1500};
  for (int round = 0; round < 200; round++) {
    for (int i = 0; i < 32; i++) {
      Bytes d;
      if (i % 4 == 0) {
        d = captured.bytes;
        d[next() % d.size()] ^= static_cast<uint8_t>(1u << (next() % 8));
      } else {
        d.resize(sizes[next() % std::size(sizes)]);
        for (auto& c : d) c = static_cast<uint8_t>(next());
        if (d.size() >= 4) {
          d[0] = static_cast<uint8_t>(1 + next() % 4);
          d[1] = d[2] = d[3] = 0;
        }
      }
      b->bind()->inbox.push_back({NetEndpoint{{ip("198.18.0.66"), 4444}, {}, 0}, {}, d});
    }
    auto ps = b->udp_buffers.reset();
    std::vector<NetEndpoint> from(ps.size());
    const size_t n = b->bind()->receive(ps, from);
    b->dev.receive(ps.first(n), {from.data(), n}, b->in);
    ASSERT_LE(b->dev.pending_handshakes(), 64u);
    if (round % 50 == 49) b->dev.process_handshakes();
  }
  b->dev.process_handshakes();
  const auto c = b->dev.counters();
  EXPECT_GT(c.handshake_queue_full, 0u);
  EXPECT_GT(c.malformed + c.unknown_index + c.decrypt_failed + c.bad_mac1 + c.replayed, 1000u);
  EXPECT_EQ(c.responses_sent, 1u);  // only the real handshake was ever answered
  EXPECT_TRUE(b->tun.to_host.size() == 1);
  // The real peers still talk.
  b->tun.to_host.clear();
  data_a_to_b();
  EXPECT_EQ(b->tun.to_host.size(), 1u);
}

TEST_F(EngineDevice, AtMost128PacketsWaitForAHandshake) {
  make();
  configure();
  net.filter = [](const MemoryNetwork::Datagram&) { return false; };
  for (int i = 0; i < 200; i++)
    a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10, static_cast<uint8_t>(i)));
  pump();
  EXPECT_EQ(a->dev.counters().staged, 200u);
  EXPECT_EQ(a->dev.counters().staged_dropped, 72u);  // the oldest went
  net.filter = nullptr;
  advance(6s);  // the retransmitted initiation gets through
  ASSERT_EQ(b->tun.to_host.size(), 128u);
  EXPECT_EQ(b->tun.to_host.front().back(), 72);
  EXPECT_EQ(b->tun.to_host.back().back(), 199);
}

TEST_F(EngineDevice, StagedPacketsOfAllPeersShareOneByteBudget) {
  constexpr size_t kPayload = 1000, kStagedSize = kHeadroom + 20 + kPayload + kTailroom;
  DeviceOptions budget;
  budget.max_staged_bytes = 64 << 10;  // 61 such packets
  make(budget);
  configure();
  // 200 more peers of A, none of which ever answers.
  std::string peers;
  for (int i = 0; i < 200; i++)
    peers += "public_key=" + hex(crypto::public_key(crypto::generate_private_key())) +
             "\nendpoint=198.18.1.1:1\nallowed_ip=10.1." + std::to_string(i) + ".1/32\n";
  ASSERT_EQ(a->dev.uapi_set(peers + "\n"), 0);
  net.filter = [](const MemoryNetwork::Datagram&) { return false; };
  // 10 packets for B, then 1,000 for the others: no session anywhere, so all are staged.
  for (int i = 0; i < 10; i++)
    a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", kPayload, static_cast<uint8_t>(i)));
  for (int i = 0; i < 200; i++)
    for (int j = 0; j < 5; j++)
      a->tun.from_host.push_back(
          ipv4("10.0.0.1", ("10.1." + std::to_string(i) + ".1").c_str(), kPayload));
  pump();
  auto c = a->dev.counters();
  EXPECT_EQ(c.staged, 1010u);
  const uint64_t held = c.staged - c.staged_dropped;
  EXPECT_LE(held * kStagedSize, budget.max_staged_bytes);
  EXPECT_EQ(held, budget.max_staged_bytes / kStagedSize);  // the budget is used, not more
  // B answers the retransmitted initiation: its 10 packets go, and their bytes are free again.
  net.filter = [](const MemoryNetwork::Datagram& d) {
    return d.to.remote.address != ip("198.18.1.1");
  };
  advance(6s);
  ASSERT_EQ(b->tun.to_host.size(), 10u);
  EXPECT_EQ(b->tun.to_host.back().back(), 9);
  const uint64_t dropped = a->dev.counters().staged_dropped;
  for (int i = 0; i < 10; i++) a->tun.from_host.push_back(ipv4("10.0.0.1", "10.1.7.1", kPayload));
  pump();
  EXPECT_EQ(a->dev.counters().staged_dropped, dropped);
  EXPECT_EQ(a->dev.counters().staged, 1020u);
}

TEST_F(EngineDevice, MessageLimitsRekeyAndThenRefuseAKeypair) {
  DeviceOptions few;
  few.timings.rekey_after_messages = 5;
  few.timings.reject_after_messages = 8;
  make(few, few);
  configure();
  handshake();  // A has sent 1 packet under this session
  for (int i = 0; i < 3; i++) a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();
  EXPECT_EQ(a->dev.counters().initiations_sent, 1u);  // 4 sent: below REKEY_AFTER_MESSAGES
  clock.advance(6s);  // (initiations are at most one per REKEY_TIMEOUT)
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();
  EXPECT_EQ(a->dev.counters().initiations_sent, 2u);  // the 5th: a new session
  EXPECT_EQ(a->dev.counters().handshakes_completed, 2u);
  EXPECT_EQ(b->tun.to_host.size(), 4u);
  // B, the responder, never rekeys on its own; once its keypair reaches REJECT_AFTER_MESSAGES it
  // stops sending under it and asks for a handshake instead.
  for (int i = 0; i < 10; i++) b->tun.from_host.push_back(ipv4("10.0.0.2", "10.0.0.1", 10));
  pump();
  EXPECT_EQ(b->dev.counters().initiations_sent, 1u);
  EXPECT_EQ(a->tun.to_host.size(), 10u);  // 8 at once, 2 staged and sent after the handshake
}

TEST_F(EngineDevice, NewPrivateKeyExpiresSessions) {
  make();
  configure();
  handshake();
  const auto fresh = crypto::generate_private_key();
  ASSERT_EQ(a->dev.uapi_set("private_key=" + hex(fresh) + "\n\n"), 0);
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();
  // The old session no longer sends; the new identity is unknown to B.
  EXPECT_EQ(a->dev.counters().initiations_sent, 2u);
  EXPECT_EQ(b->dev.counters().handshake_failed, 1u);
  EXPECT_TRUE(b->tun.to_host.empty());
  // B learns A's new key: the next attempt works.
  ASSERT_EQ(b->dev.uapi_set("replace_peers=true\npublic_key=" + hex(crypto::public_key(fresh)) +
                            "\nallowed_ip=10.0.0.1/32\n\n"),
            0);
  advance(6s);
  EXPECT_EQ(b->tun.to_host.size(), 1u);
}

TEST_F(EngineDevice, DownForgetsSessionsAndUpHandshakesAgain) {
  make();
  configure();
  handshake();
  a->dev.down();
  EXPECT_FALSE(a->dev.bind());
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();  // down: nothing sent, nothing staged
  EXPECT_TRUE(b->tun.to_host.empty());
  EXPECT_EQ(a->dev.counters().staged, 1u);  // only the handshake's first packet, long ago
  clock.advance(1s);  // (an initiation with the same TAI64N as the last would be a replay)
  a->dev.up();
  EXPECT_EQ(a->dev.status().listen_port, 51820);
  a->tun.from_host.push_back(ipv4("10.0.0.1", "10.0.0.2", 10));
  pump();
  EXPECT_EQ(b->tun.to_host.size(), 1u);
  EXPECT_EQ(a->dev.counters().initiations_sent, 2u);
}

TEST_F(EngineDevice, ApplyingAConfigurationAgainKeepsSessionsAndReplayProtection) {
  make();
  configure();
  handshake();
  ASSERT_EQ(net.log.front().bytes[0], 1);  // A's initiation, captured
  const Bytes initiation = net.log.front().bytes;
  const uint32_t index = load_le32(data_a_to_b().bytes.data() + 4);
  // B's configuration as the driver gives it (replace_peers), twice over.
  wg::DeviceConfig config;
  config.private_key = b->priv;
  config.listen_port = 51821;
  wg::PeerConfig peer_a;
  peer_a.public_key = a->pub;
  peer_a.allowed_ips = {*Cidr::parse("10.0.0.1/32"), *Cidr::parse("fd00::1/128")};
  config.peers.push_back(peer_a);
  b->dev.apply(config);
  b->dev.apply(config);
  // The session carries on: no new handshake, the same receiver index, B still decrypts.
  b->tun.to_host.clear();
  EXPECT_EQ(load_le32(data_a_to_b().bytes.data() + 4), index);
  EXPECT_EQ(b->tun.to_host.size(), 1u);
  EXPECT_EQ(a->dev.counters().initiations_sent, 1u);
  EXPECT_EQ(b->dev.counters().initiations_sent, 0u);
  const auto learned = b->dev.status().peers[0].endpoint;  // from the handshake, kept
  EXPECT_EQ(learned ? learned->str() : "none", "198.18.0.1:51820");
  // B still knows the newest TAI64N A sent: the captured initiation is refused as a replay.
  clock.advance(1s);
  const auto before = b->dev.counters();
  b->bind()->inbox.push_back({NetEndpoint{{ip("198.18.0.66"), 4444}, {}, 0}, {}, initiation});
  pump();
  EXPECT_EQ(b->dev.counters().handshake_failed, before.handshake_failed + 1);
  EXPECT_EQ(b->dev.counters().responses_sent, before.responses_sent);

  // A peer the configuration no longer names goes; a changed allowed-IP set replaces the old one.
  ASSERT_EQ(
      b->dev.uapi_set("public_key=" + hex(crypto::public_key(crypto::generate_private_key())) +
                      "\nallowed_ip=10.0.0.3/32\n\n"),
      0);
  ASSERT_EQ(b->dev.status().peers.size(), 2u);
  config.peers[0].allowed_ips = {*Cidr::parse("10.0.0.1/32"), *Cidr::parse("10.5.0.0/16")};
  b->dev.apply(config);
  const auto st = b->dev.status();
  ASSERT_EQ(st.peers.size(), 1u);
  EXPECT_EQ(st.peers[0].public_key, a->pub);
  ASSERT_EQ(st.peers[0].allowed_ips.size(), 2u);
  std::vector<std::string> allowed;
  for (const auto& c : st.peers[0].allowed_ips) allowed.push_back(c.str());
  std::sort(allowed.begin(), allowed.end());
  EXPECT_EQ(allowed, (std::vector<std::string>{"10.0.0.1/32", "10.5.0.0/16"}));
  b->tun.to_host.clear();
  a->tun.from_host.push_back(ipv6("fd00::1", "fd00::2", 10));  // no longer A's to send from
  data_a_to_b();
  EXPECT_EQ(b->dev.counters().source_not_allowed, 1u);
  EXPECT_EQ(b->tun.to_host.size(), 1u);
  EXPECT_EQ(a->dev.counters().initiations_sent, 1u);  // the same session all along

  // The raw UAPI replace_peers keeps wireguard-go's meaning: every peer goes, sessions with them.
  ASSERT_EQ(b->dev.uapi_set("replace_peers=true\npublic_key=" + hex(a->pub) +
                            "\nallowed_ip=10.0.0.1/32\n\n"),
            0);
  const uint64_t unknown = b->dev.counters().unknown_index;
  data_a_to_b();
  EXPECT_EQ(b->dev.counters().unknown_index, unknown + 1);
}
