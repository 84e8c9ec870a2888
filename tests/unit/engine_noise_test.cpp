// The handshake: the cacophony vector Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s reproduced by the
// generic IKpsk2 steps, then WireGuard's messages, replay and flood protection, TAI64N.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/aead.h"
#include "crypto/dh.h"
#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "engine/noise.h"
#include "engine/tai64n.h"

using namespace wgnet;
using namespace wgnet::engine;
using crypto::Key;

namespace {

std::vector<uint8_t> unhex(std::string_view s) {
  auto v = crypto::hex_decode(s);
  if (!v) throw std::runtime_error("bad hex in test");
  return *v;
}
Key key(std::string_view hex) { return crypto::key_from_hex(hex, "test key"); }
std::span<const uint8_t> sub(const std::vector<uint8_t>& v, size_t from, size_t n) {
  return {v.data() + from, n};
}

}  // namespace

// The entry of cacophony's vectors/cacophony.txt (values only).
TEST(NoiseVector, CacophonyIKpsk2) {
  const std::string name = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
  const auto prologue = unhex("4a6f686e2047616c74");  // "John Galt"
  const Key psk = key("54686973206973206d7920417573747269616e20706572737065637469766521");
  const Key s_i = key("e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1");
  const Key e_i = key("893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a");
  const Key s_r = key("4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893");
  const Key e_r = key("bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b");
  const Key rs = crypto::public_key(s_r);
  ASSERT_EQ(crypto::key_to_hex(rs),
            "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62");
  const struct {
    const char* payload;
    const char* ciphertext;
  } messages[] = {
      {"4c756477696720766f6e204d69736573",
       "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944001e21de9f98ddd8e2ad5752"
       "7207feb56253c9c94a9e496782ecfcb2a75fbcaf1b52948cc48daefe660c62119ab5000980c84831215f2441"
       "eba616548e832985464cf17e51ee93109008399a21f7e13f"},
      {"4d757272617920526f746862617264",
       "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843cb765f2caef0751b8f007572"
       "dab0322217755c0632f365717edbf34d33e87a"},
      {"462e20412e20486179656b", "8153ca9833bc3c1b91a7e66e5f4d4f5b59bf9e64c2f20d15f0bba7"},
      {"4361726c204d656e676572", "07af0c9c86e1b4e80f36b04ff7688d51141af3debd0332f0a705ef"},
      {"4a65616e2d426170746973746520536179",
       "6ab1467c0448cc78394494abaaf23afce0e234315d6e2624dcbfa8a21c1c4d073d"},
      {"457567656e2042f6686d20766f6e2042617765726b",
       "dfc346c0d2296ae6cf1acf6f12b8456a1dba228cf8d8b774aacf1c47fc53aa80ebc7a4c292"},
  };

  noise::SymmetricState ini, res;
  ini.initialize(name, prologue);
  ini.mix_hash(rs.span());
  res.initialize(name, prologue);
  res.mix_hash(rs.span());

  // -> e, es, s, ss
  const Key ss_i = [&] {
    Key k;
    EXPECT_TRUE(crypto::x25519(k, s_i, rs));
    return k;
  }();
  auto p0 = unhex(messages[0].payload);
  std::vector<uint8_t> m0(32 + 48 + p0.size() + 16);
  ASSERT_TRUE(noise::write_message1(ini, e_i, crypto::public_key(s_i), rs, ss_i, p0, m0.data()));
  EXPECT_EQ(crypto::hex_encode(m0), messages[0].ciphertext);

  Key initiator_static;
  ASSERT_TRUE(
      noise::read_message1_static(res, s_r, sub(m0, 0, 32), sub(m0, 32, 48), initiator_static));
  EXPECT_EQ(initiator_static, crypto::public_key(s_i));
  Key ss_r;
  ASSERT_TRUE(crypto::x25519(ss_r, s_r, initiator_static));
  std::vector<uint8_t> got(p0.size());
  ASSERT_TRUE(noise::read_message1_payload(res, ss_r, sub(m0, 80, m0.size() - 80), got.data()));
  EXPECT_EQ(got, p0);

  // <- e, ee, se, psk
  auto p1 = unhex(messages[1].payload);
  std::vector<uint8_t> m1(32 + p1.size() + 16);
  ASSERT_TRUE(noise::write_message2(res, e_r, crypto::public_key(e_i), initiator_static, psk, p1,
                                    m1.data()));
  EXPECT_EQ(crypto::hex_encode(m1), messages[1].ciphertext);
  got.assign(p1.size(), 0);
  ASSERT_TRUE(noise::read_message2(ini, e_i, s_i, psk, sub(m1, 0, 32), sub(m1, 32, m1.size() - 32),
                                   got.data()));
  EXPECT_EQ(got, p1);

  EXPECT_EQ(crypto::key_to_hex(ini.h),
            "f5191b875290abcd41347ac3622d9679688a7e980229cb937ef748336cfde0e5");
  EXPECT_EQ(ini.h, res.h);

  // Transport: initiator → responder with the first key, back with the second, counters from 0.
  auto [k1, k2] = ini.split();
  auto [r1, r2] = res.split();
  EXPECT_EQ(k1, r1);
  EXPECT_EQ(k2, r2);
  for (size_t i = 2; i < std::size(messages); i++) {
    auto p = unhex(messages[i].payload);
    std::vector<uint8_t> c(p.size() + 16);
    const bool from_initiator = i % 2 == 0;
    crypto::aead_seal(from_initiator ? k1 : k2, (i - 2) / 2, {}, p, c.data());
    EXPECT_EQ(crypto::hex_encode(c), messages[i].ciphertext) << "message " << i;
  }
}

namespace {

struct Pair {
  noise::StaticIdentity a, b;
  noise::Handshake a_hs, b_hs;  // a's handshake with b, b's with a

  Pair() {
    for (auto* id : {&a, &b}) {
      id->private_key = crypto::generate_private_key();
      id->public_key = crypto::public_key(id->private_key);
      id->has_key = true;
    }
    a_hs.remote_static = b.public_key;
    b_hs.remote_static = a.public_key;
    EXPECT_TRUE(crypto::x25519(a_hs.precomputed_ss, a.private_key, b.public_key));
    EXPECT_TRUE(crypto::x25519(b_hs.precomputed_ss, b.private_key, a.public_key));
  }
};

Tai64n stamp(int64_t seconds) {
  return tai64n(std::chrono::system_clock::time_point(std::chrono::seconds(seconds)));
}

}  // namespace

TEST(WireGuardHandshake, BothSidesDeriveMatchingKeys) {
  Pair p;
  Key psk = crypto::generate_private_key();
  p.a_hs.preshared_key = psk;
  p.b_hs.preshared_key = psk;
  MessageInitiation init;
  ASSERT_TRUE(noise::create_initiation(p.a_hs, p.a, stamp(1000), 7, init));
  EXPECT_EQ(load_le32(init.sender), 7u);

  noise::SymmetricState st;
  Key who;
  ASSERT_TRUE(noise::open_initiation(init, p.b, st, who));
  EXPECT_EQ(who, p.a.public_key);
  Clock::Time t0{};
  ASSERT_TRUE(noise::consume_initiation(init, st, p.b_hs, t0, kHandshakeInitiationRate));
  MessageResponse resp;
  ASSERT_TRUE(noise::create_response(p.b_hs, 9, resp));
  EXPECT_EQ(load_le32(resp.receiver), 7u);
  auto b_keys = noise::derive_session(p.b_hs);
  ASSERT_TRUE(b_keys);
  EXPECT_EQ(p.b_hs.state, noise::Handshake::State::kZeroed);

  ASSERT_TRUE(noise::consume_response(resp, p.a_hs, p.a));
  auto a_keys = noise::derive_session(p.a_hs);
  ASSERT_TRUE(a_keys);
  EXPECT_TRUE(a_keys->initiator);
  EXPECT_FALSE(b_keys->initiator);
  EXPECT_EQ(a_keys->send, b_keys->receive);
  EXPECT_EQ(a_keys->receive, b_keys->send);
  EXPECT_EQ(a_keys->remote_index, 9u);
  EXPECT_EQ(b_keys->remote_index, 7u);
}

TEST(WireGuardHandshake, ReplayedOrFloodedInitiationIsRefused) {
  Pair p;
  MessageInitiation first, second;
  ASSERT_TRUE(noise::create_initiation(p.a_hs, p.a, stamp(1000), 1, first));
  ASSERT_TRUE(noise::create_initiation(p.a_hs, p.a, stamp(1001), 2, second));
  const Clock::Time t0{};
  auto consume = [&](const MessageInitiation& m, Clock::Time now) {
    noise::SymmetricState st;
    Key who;
    return noise::open_initiation(m, p.b, st, who) &&
           noise::consume_initiation(m, st, p.b_hs, now, kHandshakeInitiationRate);
  };
  ASSERT_TRUE(consume(first, t0));
  EXPECT_FALSE(consume(first, t0 + std::chrono::seconds(1)));        // same timestamp: a replay
  EXPECT_FALSE(consume(second, t0 + std::chrono::milliseconds(5)));  // newer, but within 20 ms
  EXPECT_TRUE(consume(second, t0 + std::chrono::milliseconds(25)));
}

TEST(WireGuardHandshake, WrongPresharedKeyOrTamperingFails) {
  Pair p;
  p.b_hs.preshared_key = crypto::generate_private_key();  // a has none
  MessageInitiation init;
  ASSERT_TRUE(noise::create_initiation(p.a_hs, p.a, stamp(1000), 1, init));
  noise::SymmetricState st;
  Key who;
  ASSERT_TRUE(noise::open_initiation(init, p.b, st, who));
  ASSERT_TRUE(noise::consume_initiation(init, st, p.b_hs, Clock::Time{}, kHandshakeInitiationRate));
  MessageResponse resp;
  ASSERT_TRUE(noise::create_response(p.b_hs, 2, resp));
  EXPECT_FALSE(noise::consume_response(resp, p.a_hs, p.a));  // the PSK differs
  EXPECT_EQ(p.a_hs.state, noise::Handshake::State::kCreatedInitiation);

  MessageInitiation tampered = init;
  tampered.encrypted_static[5] ^= 1;
  EXPECT_FALSE(noise::open_initiation(tampered, p.b, st, who));
  // Addressed to someone else: the static key does not decrypt.
  noise::StaticIdentity other{crypto::generate_private_key(), {}, true};
  other.public_key = crypto::public_key(other.private_key);
  EXPECT_FALSE(noise::open_initiation(init, other, st, who));
  // A low-order ephemeral is refused (the DH result is zero).
  MessageInitiation zero_e = init;
  std::fill(std::begin(zero_e.ephemeral), std::end(zero_e.ephemeral), 0);
  EXPECT_FALSE(noise::open_initiation(zero_e, p.b, st, who));
}

TEST(Tai64n, EncodingGrowsAndHidesFineTiming) {
  using namespace std::chrono;
  const auto t = system_clock::time_point(seconds(1700000000) + nanoseconds(123456789));
  const Tai64n ts = tai64n(t);
  // 0x400000000000000a + 1700000000 = 0x400000006553f10a; 123456789 rounded down to 2^24 steps.
  EXPECT_EQ(crypto::hex_encode(ts), "400000006553f10a" + std::string("07000000"));
  EXPECT_EQ(tai64n(t + nanoseconds(1000)), ts);                        // below 2^24 ns: same
  EXPECT_TRUE(after(tai64n(t + milliseconds(20)), ts));                // grows
  EXPECT_TRUE(after(tai64n(t + seconds(1) - milliseconds(900)), ts));  // across the rounding
  EXPECT_FALSE(after(ts, ts));
}
