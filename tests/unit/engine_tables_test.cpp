// Table-driven tests of the core's small parts: replay window, allowed IPs, rate limiter,
// keypair rotation, timers, cookies, index table.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crypto/dh.h"
#include "crypto/x25519.h"
#include "engine/allowedips.h"
#include "engine/cookie.h"
#include "engine/index_table.h"
#include "engine/keypair.h"
#include "engine/ratelimiter.h"
#include "engine/replay.h"
#include "engine/timers.h"
#include "util/error.h"

using namespace wgnet;
using namespace wgnet::engine;
using namespace std::chrono_literals;

// ---- replay window ----

TEST(ReplayFilter, Table) {
  // The cases of wireguard-go's replay test, in our own words: each step offers a counter and
  // says whether it must be accepted. W = 8128, the window.
  constexpr uint64_t W = ReplayFilter::kWindowSize;
  constexpr uint64_t kLimit = kRejectAfterMessages;
  struct Step {
    uint64_t counter;
    bool accepted;
  };
  const std::vector<Step> steps = {{0, true},
                                   {1, true},
                                   {1, false},
                                   {9, true},
                                   {8, true},
                                   {7, true},
                                   {7, false},
                                   {W, true},
                                   {W - 1, true},
                                   {W - 1, false},
                                   {W - 2, true},
                                   {2, true},
                                   {2, false},
                                   {W + 16, true},
                                   {3, false},
                                   {W + 16, false},
                                   {W * 4, true},
                                   {W * 4 - (W - 1), true},
                                   {10, false},
                                   {W * 4 - W, true},
                                   {W * 4 - (W + 1), false},
                                   {W * 4 - (W - 1), false},
                                   {W * 4 + 1, true},
                                   {kLimit - 1, true},
                                   {kLimit, false},
                                   {kLimit + 1, false},
                                   {kLimit - 2, true},
                                   {kLimit - 1, false}};
  ReplayFilter f;
  for (size_t i = 0; i < steps.size(); i++)
    EXPECT_EQ(f.accept(steps[i].counter, kLimit), steps[i].accepted)
        << "step " << i << " counter " << steps[i].counter;
}

TEST(ReplayFilter, WholeWindowInAnyOrderThenNothingTwice) {
  constexpr uint64_t W = ReplayFilter::kWindowSize;
  ReplayFilter f;
  // Newest first, then every older one still inside the window, backwards.
  EXPECT_TRUE(f.accept(W, kRejectAfterMessages));
  for (uint64_t c = W - 1; c >= 1; c--) ASSERT_TRUE(f.accept(c, kRejectAfterMessages)) << c;
  EXPECT_TRUE(f.accept(0, kRejectAfterMessages));  // exactly W behind: still inside
  for (uint64_t c = 0; c <= W; c++) ASSERT_FALSE(f.accept(c, kRejectAfterMessages)) << c;
  // A jump past the whole ring clears it: counters far ahead are all new.
  for (uint64_t c = 10 * W; c < 10 * W + 300; c++) ASSERT_TRUE(f.accept(c, kRejectAfterMessages));
  f.reset();
  EXPECT_TRUE(f.accept(0, kRejectAfterMessages));
}

// ---- allowed IPs ----

namespace {
struct FakePeer {
  std::string name;
};
Cidr cidr(const char* s) { return *Cidr::parse(s); }
IpAddress ip(const char* s) { return *IpAddress::parse(s); }
}  // namespace

TEST(AllowedIps, LongestPrefixTable) {
  FakePeer a{"a"}, b{"b"}, c{"c"}, d{"d"}, e{"e"}, f{"f"}, g{"g"}, h{"h"};
  AllowedIps<FakePeer> t;
  t.insert(cidr("192.168.4.0/24"), &a);
  t.insert(cidr("192.168.4.4/32"), &b);
  t.insert(cidr("192.168.0.0/16"), &c);
  t.insert(cidr("192.95.5.64/27"), &d);
  t.insert(cidr("192.95.5.65/32"), &c);  // replaces nothing: a longer prefix inside d's
  t.insert(cidr("0.0.0.0/0"), &e);
  t.insert(cidr("2607:5300:60:6b00::/64"), &f);
  t.insert(cidr("2607:5300:60:6b00::c05f:543/128"), &g);
  t.insert(cidr("2001:db8::/32"), &h);
  t.insert(cidr("10.1.0.0/16"), &a);
  t.insert(cidr("10.1.0.0/16"), &b);  // the same prefix: b owns it now
  t.insert(cidr("10.1.2.3/24"), &d);  // host bits are ignored

  const std::map<std::string, FakePeer*> expect = {
      {"192.168.4.20", &a},
      {"192.168.4.4", &b},
      {"192.168.200.182", &c},
      {"192.95.5.68", &d},
      {"192.95.5.65", &c},
      {"192.95.5.96", &e},
      {"8.8.8.8", &e},
      {"10.1.2.200", &d},
      {"10.1.3.1", &b},
      {"2607:5300:60:6b00::c05f:543", &g},
      {"2607:5300:60:6b00::c02f:1", &f},
      {"2001:db8:ffff::1", &h},
      {"2001:db9::1", nullptr},
      {"::1", nullptr},
  };
  for (const auto& [addr, owner] : expect) EXPECT_EQ(t.lookup(ip(addr.c_str())), owner) << addr;

  EXPECT_EQ(t.size(), 11u);
  auto entries_of = [&](FakePeer* p) {
    std::vector<std::string> out;
    for (const auto& x : t.entries(p)) out.push_back(x.str());
    return out;
  };
  EXPECT_EQ(entries_of(&b), (std::vector<std::string>{"10.1.0.0/16", "192.168.4.4/32"}));
  EXPECT_EQ(entries_of(&d), (std::vector<std::string>{"10.1.2.0/24", "192.95.5.64/27"}));
}

TEST(AllowedIps, RemoveOnlyWhatTheOwnerHas) {
  FakePeer a, b;
  AllowedIps<FakePeer> t;
  t.insert(cidr("10.0.0.0/8"), &a);
  t.insert(cidr("10.1.0.0/16"), &b);
  t.insert(cidr("10.1.1.0/24"), &a);
  t.insert(cidr("fd00::/8"), &a);
  EXPECT_FALSE(t.remove(cidr("10.1.0.0/16"), &a));  // b's, not a's
  EXPECT_FALSE(t.remove(cidr("10.2.0.0/16"), &a));  // not there
  EXPECT_EQ(t.lookup(ip("10.1.5.5")), &b);
  EXPECT_TRUE(t.remove(cidr("10.1.0.0/16"), &b));
  EXPECT_EQ(t.lookup(ip("10.1.5.5")), &a);  // falls back to the /8
  EXPECT_EQ(t.lookup(ip("10.1.1.9")), &a);
  t.remove_all(&a);
  EXPECT_EQ(t.lookup(ip("10.1.1.9")), nullptr);
  EXPECT_EQ(t.lookup(ip("fd00::1")), nullptr);
  EXPECT_EQ(t.size(), 0u);
}

TEST(AllowedIps, ManyHostRoutesMatchAPlainScan) {
  // A pseudo-random table checked against a linear longest-prefix scan.
  std::vector<FakePeer> peers(16);
  std::vector<std::pair<Cidr, FakePeer*>> routes;
  AllowedIps<FakePeer> t;
  uint32_t x = 12345;
  auto next = [&] { return x = x * 1103515245 + 12345; };
  for (int i = 0; i < 2000; i++) {
    const uint32_t a = next() & 0x0affffff;  // 10.0.0.0/8-ish, many collisions
    const int len = 8 + static_cast<int>(next() % 25);
    Cidr c(IpAddress::v4(a), len);
    FakePeer* p = &peers[next() % peers.size()];
    t.insert(c, p);
    std::erase_if(routes, [&](const auto& r) {
      return r.first.network() == c.network() && r.first.prefix() == len;
    });
    routes.emplace_back(c, p);
  }
  for (int i = 0; i < 3000; i++) {
    const IpAddress probe = IpAddress::v4(next() & 0x0affffff);
    FakePeer* best = nullptr;
    int best_len = -1;
    for (const auto& [c, p] : routes)
      if (c.contains(probe) && c.prefix() > best_len) {
        best = p;
        best_len = c.prefix();
      }
    ASSERT_EQ(t.lookup(probe), best) << probe.str();
  }
  EXPECT_EQ(t.size(), routes.size());
}

// ---- rate limiter ----

TEST(RateLimiter, BurstThenSustainedRatePerSource) {
  RateLimiter rl({20, 5, 100});
  const Clock::Time t0{std::chrono::hours(1)};
  const IpAddress a = ip("198.18.0.1"), b = ip("198.18.0.2");
  int allowed = 0;
  for (int i = 0; i < 10; i++) allowed += rl.allow(a, t0);
  EXPECT_EQ(allowed, 5);         // the burst
  EXPECT_TRUE(rl.allow(b, t0));  // another source is not affected
  EXPECT_FALSE(rl.allow(a, t0 + 40ms));
  EXPECT_TRUE(rl.allow(a, t0 + 50ms));  // one every 1/20 s
  EXPECT_FALSE(rl.allow(a, t0 + 60ms));
  // IPv6 sources are limited per /64.
  EXPECT_EQ(rl.size(), 2u);
  for (int i = 0; i < 5; i++) EXPECT_TRUE(rl.allow(ip("fd00::1"), t0)) << i;
  EXPECT_FALSE(rl.allow(ip("fd00::ffff:2"), t0));
  EXPECT_TRUE(rl.allow(ip("fd00:0:0:1::2"), t0));
}

TEST(RateLimiter, TableIsBoundedAndForgetsIdleSources) {
  RateLimiter rl({20, 5, 3});
  const Clock::Time t0{std::chrono::hours(1)};
  EXPECT_TRUE(rl.allow(ip("10.0.0.1"), t0));
  EXPECT_TRUE(rl.allow(ip("10.0.0.2"), t0));
  EXPECT_TRUE(rl.allow(ip("10.0.0.3"), t0));
  EXPECT_TRUE(rl.allow(ip("10.0.0.4"), t0));
  EXPECT_EQ(rl.size(), 3u);
  EXPECT_TRUE(rl.allow(ip("10.0.0.5"), t0 + 2s));  // idle entries were dropped
  EXPECT_EQ(rl.size(), 1u);
}

TEST(RateLimiter, FullTableForgetsTheLeastRecentlySeenSource) {
  RateLimiter rl({20, 5, 3});
  const Clock::Time t0{std::chrono::hours(1)};
  // Three sources spend their burst; 10.0.0.1 is seen again last.
  for (const char* s : {"10.0.0.1", "10.0.0.2", "10.0.0.3"})
    for (int i = 0; i < 5; i++) ASSERT_TRUE(rl.allow(ip(s), t0)) << s;
  EXPECT_FALSE(rl.allow(ip("10.0.0.1"), t0));
  // A new source is let in (a flood of new sources cannot lock out a new peer); 10.0.0.2, the
  // least recently seen, is forgotten: it starts over with a full burst.
  EXPECT_TRUE(rl.allow(ip("10.0.0.4"), t0));
  EXPECT_EQ(rl.size(), 3u);
  EXPECT_TRUE(rl.allow(ip("10.0.0.2"), t0));  // (and 10.0.0.3 goes)
  // The recently seen one kept its empty bucket.
  EXPECT_FALSE(rl.allow(ip("10.0.0.1"), t0));
  EXPECT_TRUE(rl.allow(ip("10.0.0.3"), t0));
  EXPECT_EQ(rl.size(), 3u);
}

TEST(RateLimiter, TableSizedFromMemoryAsTheLinuxDriver) {
  constexpr uint64_t kMiB = uint64_t{1} << 20, kGiB = uint64_t{1} << 30;
  EXPECT_EQ(RateLimiter::entries_for_memory(0), 16u * 8);  // at least 16 buckets
  EXPECT_EQ(RateLimiter::entries_for_memory(kMiB), 16u * 8);
  EXPECT_EQ(RateLimiter::entries_for_memory(100 * kMiB), 1024u * 8);  // 800 buckets, rounded up
  EXPECT_EQ(RateLimiter::entries_for_memory(512 * kMiB), 4096u * 8);
  EXPECT_EQ(RateLimiter::entries_for_memory(kGiB), 8192u * 8);
  EXPECT_EQ(RateLimiter::entries_for_memory(64 * kGiB), 8192u * 8);  // at most 8192 buckets
  EXPECT_EQ(RateLimiter::entries_for_memory(UINT64_MAX), 8192u * 8);
}

// ---- keypairs ----

namespace {
KeypairPtr kp(bool initiator, uint32_t index) {
  auto k = std::make_shared<Keypair>();
  k->initiator = initiator;
  k->local_index = index;
  return k;
}
}  // namespace

TEST(Keypair, NonceReservationStopsAtTheLimit) {
  Keypair k;
  constexpr uint64_t kLimit = kRejectAfterMessages;
  // Near the limit: what is left, and the counter ends at the limit.
  k.send_counter = kLimit - 3;
  auto r = k.reserve_nonces(8, kLimit);
  EXPECT_EQ(r.first, kLimit - 3);
  EXPECT_EQ(r.count, 3u);
  EXPECT_EQ(k.send_counter.load(), kLimit);
  // Callers asking again and again get nothing, and the counter stays (no wrap around 2^64).
  for (int i = 0; i < 10000; i++) ASSERT_EQ(k.reserve_nonces(1 << 20, kLimit).count, 0u) << i;
  EXPECT_EQ(k.send_counter.load(), kLimit);
  // A counter near UINT64_MAX (as overshooting callers once left it) never wraps to nonces
  // already used.
  k.send_counter = UINT64_MAX - 2;
  EXPECT_EQ(k.reserve_nonces(8, kLimit).count, 0u);
  EXPECT_EQ(k.send_counter.load(), UINT64_MAX - 2);
}

TEST(Keypair, ConcurrentReservationsShareTheNoncesExactly) {
  // Reservations from several threads at once (the tx queue orders them, but expire_sending
  // stores beside it): every nonce below the limit is handed out once, none at or above it, and
  // the counter ends at the limit.
  Keypair k;
  constexpr uint64_t kLimit = 10'000;
  std::vector<std::vector<uint64_t>> got(4);
  std::vector<std::thread> threads;
  for (auto& g : got)
    threads.emplace_back([&k, &g] {
      for (int i = 0; i < 2000; i++) {
        const auto r = k.reserve_nonces(7, kLimit);
        for (size_t j = 0; j < r.count; j++) g.push_back(r.first + j);
      }
    });
  for (auto& t : threads) t.join();
  std::vector<uint64_t> all;
  for (const auto& g : got) all.insert(all.end(), g.begin(), g.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), kLimit);
  for (uint64_t i = 0; i < kLimit; i++) ASSERT_EQ(all[i], i);
  EXPECT_EQ(k.send_counter.load(), kLimit);
}

TEST(Keypairs, InitiatorUsesAtOnceResponderWaitsForConfirmation) {
  Keypairs k;
  auto a = kp(true, 1);
  EXPECT_TRUE(k.install(a).empty());
  EXPECT_EQ(k.current(), a);
  auto b = kp(true, 2);
  EXPECT_TRUE(k.install(b).empty());  // a is now previous
  EXPECT_EQ(k.current(), b);
  auto c = kp(false, 3);
  auto dropped = k.install(c);  // responder: next; previous (a) goes
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0], a);
  EXPECT_EQ(k.current(), b);
  EXPECT_EQ(k.next(), c);
  std::vector<KeypairPtr> out;
  EXPECT_FALSE(k.confirm(b, out));  // a packet under current confirms nothing
  EXPECT_TRUE(k.confirm(c, out));
  EXPECT_EQ(k.current(), c);
  EXPECT_EQ(k.next(), nullptr);
  EXPECT_TRUE(out.empty());  // b became previous
  // Initiator while a next is pending: next becomes previous, current goes.
  auto d = kp(false, 4);
  k.install(d);
  auto e = kp(true, 5);
  dropped = k.install(e);
  EXPECT_EQ(k.current(), e);
  EXPECT_EQ(dropped.size(), 1u);    // c (current); b was already dropped with d's install
  EXPECT_EQ(k.clear().size(), 2u);  // e and d
  EXPECT_TRUE(k.empty());
}

// ---- timers ----

TEST(PeerTimers, DeadlinesFollowTheEvents) {
  Timings t;
  t.rekey_timeout_jitter_max = 0ms;  // deterministic here
  PeerTimers pt(t);
  const Clock::Time t0{std::chrono::hours(1)};
  EXPECT_FALSE(pt.data_sent(t0));  // not running: nothing
  pt.start();
  EXPECT_EQ(pt.data_sent(t0), t0 + 15s);  // new-handshake: keepalive + rekey timeout
  EXPECT_FALSE(pt.data_sent(t0 + 1s));    // already pending: unchanged
  EXPECT_EQ(pt.deadline(kNewHandshake), t0 + 15s);
  EXPECT_EQ(pt.data_received(t0), t0 + 10s);  // send-keepalive, earlier: a new visit
  EXPECT_FALSE(pt.data_received(t0 + 1s));    // pending: asks for another one later
  pt.any_authenticated_packet_received();     // clears new-handshake
  EXPECT_FALSE(pt.deadline(kNewHandshake));
  EXPECT_EQ(pt.session_derived(t0), std::nullopt);  // later than the scheduled visit
  EXPECT_EQ(pt.deadline(kZeroKeyMaterial), t0 + 540s);

  Visit next;
  EXPECT_EQ(pt.expire(t0 + 15s, t0 + 15s, next), 0u);  // not the scheduled visit
  EXPECT_EQ(pt.expire(t0 + 10s, t0 + 10s, next), unsigned(kSendKeepalive));
  EXPECT_EQ(next, t0 + 540s);
  EXPECT_EQ(pt.keepalive_sent_on_timer(t0 + 10s), t0 + 20s);  // the one asked for
  EXPECT_EQ(pt.any_authenticated_packet_traversal(t0 + 10s, 25), std::nullopt);  // 35 s > 20 s
  EXPECT_EQ(pt.deadline(kPersistentKeepalive), t0 + 35s);
  pt.stop();
  EXPECT_FALSE(pt.deadline(kZeroKeyMaterial));
}

TEST(PeerTimers, RetransmitLimit) {
  Timings t;
  EXPECT_EQ(t.max_handshake_attempts(), 18u);
  PeerTimers pt(t);
  pt.start();
  int retries = 0;
  while (pt.count_handshake_attempt()) retries++;
  EXPECT_EQ(retries, 18);
  pt.reset_handshake_attempts();
  EXPECT_TRUE(pt.count_handshake_attempt());
  const Clock::Time t0{};
  auto v = pt.handshake_initiated(t0);
  ASSERT_TRUE(v);
  EXPECT_GE(*v, t0 + 5s);
  EXPECT_LE(*v, t0 + 5s + 333ms);
}

TEST(Timings, TestOnlySettingShortensThem) {
  const Timings t = parse_timings(
      "rekey_after_time=10s,reject_after_time=15s,rekey_timeout=500ms,rekey_attempt_time=2s,"
      "rekey_after_messages=1000");
  EXPECT_EQ(t.rekey_after_time, 10s);
  EXPECT_EQ(t.reject_after_time, 15s);
  EXPECT_EQ(t.rekey_timeout, 500ms);
  EXPECT_EQ(t.max_handshake_attempts(), 4u);
  EXPECT_EQ(t.rekey_after_messages, 1000u);
  EXPECT_EQ(t.keepalive_timeout, kKeepaliveTimeout);  // untouched
  EXPECT_EQ(parse_timings("").rekey_after_time, kRekeyAfterTime);
  for (const char* bad : {"rekey_after_time=10", "nonsense=1s", "rekey_timeout=0s",
                          "rekey_after_messages=x", "keepalive_timeout="})
    EXPECT_THROW(parse_timings(bad), InputError) << bad;
}

// ---- cookies ----

TEST(Cookies, Mac1Mac2AndReply) {
  const auto responder_priv = crypto::generate_private_key();
  const auto responder_pub = crypto::public_key(responder_priv);
  CookieChecker checker;
  checker.init(responder_pub);
  CookieGenerator gen;
  gen.init(responder_pub);
  const Clock::Time t0{std::chrono::hours(5)};
  const wg::Endpoint src{ip("198.18.0.7"), 40000};

  std::vector<uint8_t> msg(kInitiationSize, 0x5a);
  gen.add_macs(msg, t0);
  EXPECT_TRUE(checker.mac1_valid(msg));
  EXPECT_FALSE(checker.mac2_valid(msg, src, t0));  // no cookie yet: mac2 is zeros
  msg[10] ^= 1;
  EXPECT_FALSE(checker.mac1_valid(msg));  // mac1 covers the message
  msg[10] ^= 1;

  // Under load the responder answers with a cookie; the generator takes it.
  MessageCookieReply reply = checker.make_reply(msg, 42, src, t0);
  EXPECT_EQ(load_le32(reply.receiver), 42u);
  MessageCookieReply forged = reply;
  forged.encrypted_cookie[0] ^= 1;
  EXPECT_FALSE(gen.consume_reply(forged, t0));
  EXPECT_TRUE(gen.consume_reply(reply, t0));
  EXPECT_FALSE(gen.consume_reply(reply, t0));  // once per message sent
  EXPECT_TRUE(gen.has_fresh_cookie(t0 + 60s));

  gen.add_macs(msg, t0 + 1s);
  EXPECT_TRUE(checker.mac2_valid(msg, src, t0 + 1s));
  EXPECT_FALSE(checker.mac2_valid(msg, {ip("198.18.0.8"), 40000}, t0 + 1s));  // other address
  EXPECT_FALSE(checker.mac2_valid(msg, {ip("198.18.0.7"), 40001}, t0 + 1s));  // other port
  // The secret expires after two minutes: old cookies stop working.
  EXPECT_FALSE(checker.mac2_valid(msg, src, t0 + 121s));
  // And the generator stops sending a stale cookie.
  gen.add_macs(msg, t0 + 122s);
  EXPECT_TRUE(std::all_of(msg.end() - 16, msg.end(), [](uint8_t b) { return b == 0; }));

  // A checker for another public key rejects our mac1.
  CookieChecker other;
  other.init(crypto::public_key(crypto::generate_private_key()));
  EXPECT_FALSE(other.mac1_valid(msg));
}

// ---- index table ----

TEST(IndexTable, RandomUniqueIndicesLeadToKeypairs) {
  IndexTable t;
  std::set<uint32_t> seen;
  for (int i = 0; i < 1000; i++) {
    const uint32_t idx = t.add_handshake(nullptr);
    EXPECT_NE(idx, 0u);
    EXPECT_TRUE(seen.insert(idx).second);
  }
  const uint32_t idx = *seen.begin();
  ASSERT_TRUE(t.lookup(idx));
  EXPECT_EQ(t.lookup(idx)->keypair, nullptr);
  auto k = kp(true, idx);
  t.set_keypair(idx, k);
  EXPECT_EQ(t.lookup(idx)->keypair, k);
  t.remove(idx);
  EXPECT_FALSE(t.lookup(idx));
  EXPECT_EQ(t.size(), 999u);
}
