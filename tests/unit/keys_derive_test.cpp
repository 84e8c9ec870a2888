// Every vector of spec/keys.md, both schemes, IPv4 and IPv6.
#include <gtest/gtest.h>

#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "keys/derive.h"
#include "util/error.h"

using namespace wgnet;

namespace {

keys::Deriver make(keys::Kdf kdf, const char* seed_b64, const char* add_b64) {
  return keys::Deriver(kdf, crypto::secret_from_base64(seed_b64, "seed"),
                       *crypto::base64_decode(add_b64));
}

std::string priv(const keys::Deriver& d, const char* addr) {
  return crypto::key_to_base64(d.private_key(*IpAddress::parse(addr)));
}
std::string pub(const keys::Deriver& d, const char* addr) {
  return crypto::key_to_base64(d.public_key(*IpAddress::parse(addr)));
}
std::string psk(const keys::Deriver& d, const char* addr) {
  return crypto::key_to_base64(d.preshared_key(*IpAddress::parse(addr)));
}

}  // namespace

struct Sha3Vector {
  const char *seed, *additional, *address, *priv, *pub;
};

class Sha3Vectors : public ::testing::TestWithParam<Sha3Vector> {};

TEST_P(Sha3Vectors, MatchTheArticle) {
  const auto& v = GetParam();
  auto d = make(keys::Kdf::kSha3, v.seed, v.additional);
  EXPECT_EQ(priv(d, v.address), v.priv);
  EXPECT_EQ(pub(d, v.address), v.pub);
}

INSTANTIATE_TEST_SUITE_P(
    KeysMd, Sha3Vectors,
    ::testing::Values(Sha3Vector{"dGVzdHNlZWQK", "dGVzdGFkZGl0aW9uYWwK", "192.168.5.2",
                                 "IJftaHjgELSRD3PXllSPn3EpiVmrEjQupVynwcfu8FE=",
                                 "+Pm8wi17cOoQ/QvaBq/WLcslAcgX1cCkrJA5dG57nU8="},
                      Sha3Vector{"dGVzdHNlZWQK", "dGVzdGFkZGl0aW9uYWwK", "10.0.42.1",
                                 "cBGd/MD6XTPtypcM/X1qIEDUJSzHyMVRWw50uxkFuE8=",
                                 "/l/BV1z68dXFqz3rgBtCpJK+p1K4EQYCANYaOR7JU1o="},
                      Sha3Vector{"dGVzdHNlZWQK", "dGVzdGFkZGl0aW9uYWwK", "10.0.42.2",
                                 "wA3R0B/r/WWAlvNbvsYLYX73rYMmeGsCkrgwnRLyNkY=",
                                 "uM/VYEGWrF1mz3lUXfne54rVyBVBxGwcYdQ4ruyo9CY="},
                      Sha3Vector{"dGVzdHNlZWQK", "YmVzdG92Lmlv", "192.168.5.2",
                                 "WNKz1h/rFKezrLIfdccfrFDFGsZ2mRcxcU0a8VUStVs=",
                                 "bU3rddZR+2plYDLLgpXlm9RUYX0rR0OTGovqv0wTqys="}));

TEST(Sha3, IsNotOriginalKeccak) {
  auto d = make(keys::Kdf::kSha3, "dGVzdHNlZWQK", "dGVzdGFkZGl0aW9uYWwK");
  EXPECT_NE(priv(d, "192.168.5.2"), "KPGLBti04NrpSWcdjDVRXQm0HHtsd9CTf8IbMNEb91c=");
}

TEST(Sha3, PrefixIsIgnoredByParserNotByScheme) {
  // The same address with or without prefix must give the same key: the CLI strips /N.
  auto d = make(keys::Kdf::kSha3, "dGVzdHNlZWQK", "dGVzdGFkZGl0aW9uYWwK");
  EXPECT_EQ(priv(d, "192.168.5.2"), "IJftaHjgELSRD3PXllSPn3EpiVmrEjQupVynwcfu8FE=");
}

TEST(ArticleHub, KeyPairMatches) {
  auto k = crypto::key_from_base64("uJerGr6ehDLKKbl8Rxr+6FMirhk69WC9k3opHMFJmlU=", "hub");
  EXPECT_EQ(crypto::key_to_base64(crypto::public_key(k)),
            "ZDT64H99t/mK5RFAxcZRx2KTK4PN8cVP55zWhkFXWgk=");
}

constexpr const char* kHkdfSeed = "YW4gZXhhbXBsZSBzZWVkIG9mIHRoaXJ0eS10d28gYnk=";

TEST(Hkdf, Ipv4Vector) {
  auto d = make(keys::Kdf::kHkdf, kHkdfSeed, "d2duZXQ=");
  EXPECT_EQ(priv(d, "10.0.42.1"), "UPf3+OVueTsrbUIKjap8onwEGkPsRp5waK6TJd0ciGA=");
  EXPECT_EQ(pub(d, "10.0.42.1"), "wMGAdAr6ds8CnMRitASZ4PHWlTAXaPmupvF7lURjNQY=");
  EXPECT_EQ(psk(d, "10.0.42.1"), "utrXyRq5mCxlMTKphNiAIgonItjkaY9k9RKQq0RY/KY=");
}

TEST(Hkdf, Ipv6Vector) {
  auto d = make(keys::Kdf::kHkdf, kHkdfSeed, "d2duZXQ=");
  EXPECT_EQ(priv(d, "fd00::2"), "qMxZn1OAOXsUqNHr5Vamt0Qxuw0UEuE30rmE6u9nIkc=");
  EXPECT_EQ(pub(d, "fd00::2"), "XrjeorTupwaXuKJ6CWapbHTjSZoseRUuSstVo/lgtXY=");
  EXPECT_EQ(psk(d, "fd00::2"), "fWM/9HbKGDeG4Ujg71nUXYfctpKTmqOct7E6hbbm2sU=");
}

TEST(Hkdf, EmptyAdditionalVector) {
  auto d = make(keys::Kdf::kHkdf, kHkdfSeed, "");
  EXPECT_EQ(priv(d, "10.0.42.1"), "iHeZlViknbAHLSVUe/RwrO0PFo5G4ZA7qjruCNvttVE=");
}

TEST(Hkdf, RefusesShortSeed) {
  EXPECT_THROW(make(keys::Kdf::kHkdf, "dGVzdHNlZWQK", ""), InputError);
}

TEST(Hkdf, ShortSeedErrorNamesTheOption) {
  try {
    keys::Deriver(keys::Kdf::kHkdf, crypto::secret_from_base64("dGVzdHNlZWQK", "x"), {},
                  "--seed-file");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--seed-file"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("16"), std::string::npos);
  }
}

TEST(Hkdf, PskNeedsLongSeedEvenWithSha3) {
  auto d = make(keys::Kdf::kSha3, "dGVzdHNlZWQK", "");
  EXPECT_THROW(d.preshared_key(*IpAddress::parse("10.0.0.1")), InputError);
}

TEST(Hkdf, FieldsAreSeparated) {
  // sha3 collides on (S="ab", A="") vs (S="a", A="b"); hkdf must not.
  auto a = keys::Deriver(keys::Kdf::kHkdf,
                         crypto::secret_from_base64("YWFhYWFhYWFhYWFhYWFhYWI=", "s"), {});
  auto b = keys::Deriver(keys::Kdf::kHkdf,
                         crypto::secret_from_base64("YWFhYWFhYWFhYWFhYWFhYQ==", "s"), {'b'});
  auto addr = *IpAddress::parse("10.0.0.1");
  EXPECT_FALSE(a.private_key(addr) == b.private_key(addr));
  auto c = keys::Deriver(keys::Kdf::kSha3,
                         crypto::secret_from_base64("YWFhYWFhYWFhYWFhYWFhYWI=", "s"), {});
  auto e = keys::Deriver(keys::Kdf::kSha3,
                         crypto::secret_from_base64("YWFhYWFhYWFhYWFhYWFhYQ==", "s"), {'b'});
  EXPECT_TRUE(c.private_key(addr) == e.private_key(addr));
}

TEST(Kdf, ParseNamesTheOption) {
  EXPECT_EQ(keys::parse_kdf("sha3", "--kdf"), keys::Kdf::kSha3);
  EXPECT_EQ(keys::parse_kdf("hkdf", "--kdf"), keys::Kdf::kHkdf);
  try {
    keys::parse_kdf("keccak", "--kdf");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--kdf"), std::string::npos);
  }
}

TEST(X25519, LibsodiumAgreesWithOpenSsl) {
  auto d = make(keys::Kdf::kHkdf, kHkdfSeed, "d2duZXQ=");
  for (uint32_t i = 1; i < 200; i++) {
    auto k = d.private_key(IpAddress::v4(0x0a000000 + i * 7919));
    EXPECT_TRUE(crypto::public_key(k) == crypto::public_key_openssl(k)) << i;
  }
}
