// Base64 and hex: round trips, strictness, key lengths.
#include <gtest/gtest.h>

#include "crypto/encoding.h"
#include "util/error.h"

using namespace wgnet;

TEST(Base64, RoundTrip) {
  for (size_t n = 0; n < 40; n++) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; i++) v[i] = static_cast<uint8_t>(i * 37 + 1);
    auto text = crypto::base64_encode(v);
    auto back = crypto::base64_decode(text);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, v);
  }
}

TEST(Base64, KnownValues) {
  EXPECT_EQ(
      crypto::base64_encode(std::vector<uint8_t>{'b', 'e', 's', 't', 'o', 'v', '.', 'i', 'o'}),
      "YmVzdG92Lmlv");
  auto d = crypto::base64_decode("dGVzdHNlZWQK");
  ASSERT_TRUE(d);
  EXPECT_EQ(std::string(d->begin(), d->end()), "testseed\n");
  EXPECT_EQ(crypto::base64_decode("")->size(), 0u);
}

TEST(Base64, RejectsMalformed) {
  for (const char* bad : {"abc", "ab=c", "a===", "YW Jj", "YWJj\n", "!!!!", "YQ=", "YR==", "=YWJ"})
    EXPECT_FALSE(crypto::base64_decode(bad)) << bad;
}

TEST(Key, ParsesAndRejectsWrongLength) {
  auto k = crypto::key_from_base64("IJftaHjgELSRD3PXllSPn3EpiVmrEjQupVynwcfu8FE=", "key");
  EXPECT_EQ(crypto::key_to_base64(k), "IJftaHjgELSRD3PXllSPn3EpiVmrEjQupVynwcfu8FE=");
  EXPECT_THROW(crypto::key_from_base64("dGVzdHNlZWQK", "key"), InputError);
  EXPECT_THROW(crypto::key_from_base64("not base64", "key"), InputError);
}

TEST(Key, ErrorNamesTheFieldButNotTheValue) {
  try {
    crypto::key_from_base64("c2VjcmV0c2VjcmV0", "--endpoint-key");
    FAIL();
  } catch (const InputError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("--endpoint-key"), std::string::npos);
    EXPECT_NE(m.find("32"), std::string::npos);
    EXPECT_EQ(m.find("c2VjcmV0c2VjcmV0"), std::string::npos);
  }
}

TEST(Hex, RoundTripAndKeys) {
  auto k = crypto::key_from_base64("ZDT64H99t/mK5RFAxcZRx2KTK4PN8cVP55zWhkFXWgk=", "k");
  auto hex = crypto::key_to_hex(k);
  EXPECT_EQ(hex.size(), 64u);
  EXPECT_TRUE(crypto::key_from_hex(hex, "k") == k);
  EXPECT_THROW(crypto::key_from_hex("zz", "k"), InputError);
  EXPECT_FALSE(crypto::hex_decode("abc"));
}

TEST(SecretBytes, WipesOnClear) {
  std::vector<uint8_t> raw{1, 2, 3};
  crypto::SecretBytes s(raw);
  EXPECT_EQ(s.size(), 3u);
  s.clear();
  EXPECT_TRUE(s.empty());
}
