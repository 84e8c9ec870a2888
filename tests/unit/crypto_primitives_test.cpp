// Known answers for the engine's primitives: BLAKE2s (RFC 7693), WireGuard's KDF, ChaCha20-Poly1305
// (RFC 8439 §2.8.2), XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha §A.3.1), X25519 (RFC 7748 §6.1).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/aead.h"
#include "crypto/blake2s.h"
#include "crypto/dh.h"
#include "crypto/encoding.h"
#include "crypto/random.h"
#include "crypto/x25519.h"

using namespace wgnet;
using namespace wgnet::crypto;

namespace {

std::vector<uint8_t> unhex(std::string_view s) {
  auto v = hex_decode(s);
  if (!v) throw std::runtime_error("bad hex in test");
  return *v;
}

Key key_hex(std::string_view s) { return key_from_hex(s, "test key"); }

std::vector<uint8_t> text(std::string_view s) { return {s.begin(), s.end()}; }

const std::string_view kSunscreen =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
    "sunscreen would be it.";
const std::string_view kKey80 = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
const std::string_view kAd = "50515253c0c1c2c3c4c5c6c7";

}  // namespace

TEST(Blake2s, Rfc7693Abc) {
  EXPECT_EQ(key_to_hex(blake2s({text("abc")})),
            "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
  // Split input gives the same digest as one piece.
  EXPECT_EQ(blake2s({text("a"), text("bc")}), blake2s({text("abc")}));
}

TEST(Blake2s, KeyedMacIsNotATruncatedHash) {
  // Independent answers: Python's hashlib.blake2s(data, key=00..1f, digest_size=16) and the
  // BLAKE2s keyed KAT (empty input, 32-byte digest).
  auto key = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  auto mac = blake2s_mac(key, {text("wireguard")});
  EXPECT_EQ(hex_encode(mac), "a61558c1c840ba642e30ae5887ea786d");
  EXPECT_NE(hex_encode(mac), key_to_hex(blake2s({text("wireguard")})).substr(0, 32));
}

TEST(Blake2s, HmacMatchesPython) {
  EXPECT_EQ(key_to_hex(hmac_blake2s(text("test-key"), {text("test-input")})),
            "ed378e02e152b574e0d9e01fb029a7066c3cc687917c28bf9dfe5b042769fa46");
}

TEST(Kdf, WireGuardVectors) {
  struct Case {
    std::string_view key, input, t0, t1, t2;
  };
  const Case cases[] = {
      {"test-key", "test-input", "6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633",
       "df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a",
       "fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24"},
      {"wireguard", "wireguard", "491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8",
       "1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f",
       "31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160"},
      {"", "", "8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0",
       "58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e",
       "0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.key));
    auto k3 = kdf<3>(text(c.key), text(c.input));
    EXPECT_EQ(key_to_hex(k3[0]), c.t0);
    EXPECT_EQ(key_to_hex(k3[1]), c.t1);
    EXPECT_EQ(key_to_hex(k3[2]), c.t2);
    auto k2 = kdf<2>(text(c.key), text(c.input));
    EXPECT_EQ(key_to_hex(k2[1]), c.t1);
    EXPECT_EQ(key_to_hex(kdf<1>(text(c.key), text(c.input))[0]), c.t0);
  }
}

TEST(ChaChaPoly, Rfc8439Section282) {
  const std::string expected =
      "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da"
      "92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585"
      "808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
      "1ae10b594f09e26a7e902ecbd0600691";
  auto nonce = unhex("070000004041424344454647");
  auto ad = unhex(kAd);
  auto plain = text(kSunscreen);
  ChaChaPoly c;
  c.set_key(key_hex(kKey80));
  std::vector<uint8_t> sealed(plain.size() + kAeadTagSize);
  c.seal(ChaChaPoly::Nonce(nonce.data(), 12), ad, plain, sealed.data());
  EXPECT_EQ(hex_encode(sealed), expected);

  std::vector<uint8_t> opened(plain.size());
  ASSERT_TRUE(c.open(ChaChaPoly::Nonce(nonce.data(), 12), ad, sealed, opened.data()));
  EXPECT_EQ(opened, plain);
  // A flipped bit anywhere, other associated data, or a short input: refused.
  for (size_t i : {size_t{0}, sealed.size() / 2, sealed.size() - 1}) {
    auto bad = sealed;
    bad[i] ^= 1;
    EXPECT_FALSE(c.open(ChaChaPoly::Nonce(nonce.data(), 12), ad, bad, opened.data())) << i;
  }
  EXPECT_FALSE(c.open(ChaChaPoly::Nonce(nonce.data(), 12), {}, sealed, opened.data()));
  EXPECT_FALSE(c.open(ChaChaPoly::Nonce(nonce.data(), 12), ad,
                      std::span<const uint8_t>(sealed.data(), 15), opened.data()));
}

TEST(ChaChaPoly, CounterNonceAndInPlace) {
  // WireGuard's nonce: 4 zero bytes then the counter little-endian; in place, as the data path
  // does.
  Key key = key_hex(kKey80);
  const uint64_t counter = 0x0102030405060708;
  auto nonce = unhex("000000000807060504030201");
  auto plain = text(kSunscreen);
  std::vector<uint8_t> a(plain.size() + kAeadTagSize), b = plain;
  b.resize(plain.size() + kAeadTagSize);
  ChaChaPoly c;
  c.set_key(key);
  c.seal(ChaChaPoly::Nonce(nonce.data(), 12), {}, plain, a.data());
  c.seal(counter, {}, std::span<const uint8_t>(b.data(), plain.size()), b.data());
  EXPECT_EQ(a, b);
  ASSERT_TRUE(aead_open(key, counter, {}, b, b.data()));
  EXPECT_EQ(std::vector<uint8_t>(b.begin(), b.begin() + plain.size()), plain);
  EXPECT_FALSE(aead_open(key, counter + 1, {}, a, b.data()));
  // After forget_key the context no longer opens what the key sealed.
  c.forget_key();
  EXPECT_FALSE(c.open(counter, {}, a, b.data()));
}

TEST(XChaChaPoly, DraftA31) {
  const std::string expected =
      "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4e"
      "da7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2"
      "383565d3fff921f9664c97637da9768812f615c68b13b52e"
      "c0875924c1c7987947deafd8780acf49";
  auto nonce = unhex("404142434445464748494a4b4c4d4e4f5051525354555657");
  auto ad = unhex(kAd);
  auto plain = text(kSunscreen);
  Key key = key_hex(kKey80);
  std::vector<uint8_t> sealed(plain.size() + kAeadTagSize);
  xaead_seal(key, std::span<const uint8_t, 24>(nonce.data(), 24), ad, plain, sealed.data());
  EXPECT_EQ(hex_encode(sealed), expected);
  std::vector<uint8_t> opened(plain.size());
  ASSERT_TRUE(
      xaead_open(key, std::span<const uint8_t, 24>(nonce.data(), 24), ad, sealed, opened.data()));
  EXPECT_EQ(opened, plain);
  sealed[3] ^= 0x80;
  EXPECT_FALSE(
      xaead_open(key, std::span<const uint8_t, 24>(nonce.data(), 24), ad, sealed, opened.data()));
}

TEST(X25519, Rfc7748Section61) {
  Key alice = key_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  Key bob = key_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  EXPECT_EQ(key_to_hex(public_key(alice)),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(key_to_hex(public_key(bob)),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  Key s1, s2;
  ASSERT_TRUE(x25519(s1, alice, public_key(bob)));
  ASSERT_TRUE(x25519(s2, bob, public_key(alice)));
  EXPECT_EQ(key_to_hex(s1), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  EXPECT_EQ(s1, s2);
}

TEST(X25519, LowOrderPointIsRefused) {
  Key out;
  out.data()[0] = 1;
  EXPECT_FALSE(x25519(out, generate_private_key(), Key()));  // the all-zero point
  EXPECT_TRUE(out.is_zero());
}

TEST(X25519, GeneratedKeysAreClampedAndDiffer) {
  Key a = generate_private_key(), b = generate_private_key();
  EXPECT_FALSE(a == b);
  EXPECT_EQ(a.data()[0] & 7, 0);
  EXPECT_EQ(a.data()[31] & 0xc0, 0x40);
}

TEST(Random, ConstantTimeCompareAndBound) {
  auto a = text("same bytes"), b = text("same bytes"), c = text("same bytez");
  EXPECT_TRUE(equal_ct(a, b));
  EXPECT_FALSE(equal_ct(a, c));
  EXPECT_FALSE(equal_ct(a, text("same")));
  EXPECT_TRUE(equal_ct({}, {}));
  for (int i = 0; i < 100; i++) EXPECT_LT(random_below(7), 7u);
}
