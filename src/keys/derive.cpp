// sha3: clamp(SHA3-256(S || A || ADDR)). hkdf: HKDF-SHA256 with length-prefixed info.
#include "keys/derive.h"

#include <string>

#include "crypto/hash.h"
#include "crypto/x25519.h"
#include "util/error.h"

namespace wgnet::keys {

namespace {
constexpr std::string_view kSalt = "wgnet-kdf-v1";

std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
}  // namespace

Kdf parse_kdf(std::string_view text, std::string_view what) {
  if (text == "sha3") return Kdf::kSha3;
  if (text == "hkdf") return Kdf::kHkdf;
  throw InputError(std::string(what) + ": unknown key scheme '" + std::string(text) +
                   "'; expected 'hkdf' or 'sha3'");
}

const char* kdf_name(Kdf kdf) { return kdf == Kdf::kSha3 ? "sha3" : "hkdf"; }

size_t min_seed_size(Kdf kdf) { return kdf == Kdf::kHkdf ? 16 : 1; }

Deriver::Deriver(Kdf kdf, crypto::SecretBytes seed, std::vector<uint8_t> additional,
                 std::string_view seed_what)
    : kdf_(kdf), seed_(std::move(seed)), additional_(std::move(additional)), seed_what_(seed_what) {
  if (seed_.size() < min_seed_size(kdf_)) {
    if (kdf_ == Kdf::kHkdf)
      throw InputError(std::string(seed_what) + ": the seed is " + std::to_string(seed_.size()) +
                       " bytes; the hkdf scheme needs at least 16 (32 random bytes recommended: "
                       "head -c 32 /dev/urandom > SEEDFILE)");
    throw InputError(std::string(seed_what) + ": the seed is empty; expected a non-empty seed");
  }
  if (additional_.size() > 0xffff)
    throw InputError("additional: longer than 65535 bytes; expected a short non-secret value");
  prk_ = crypto::hmac_sha256(as_bytes(kSalt), {seed_.span()});
}

crypto::Key Deriver::hkdf_okm(std::string_view label, const IpAddress& addr) const {
  auto a = addr.bytes();
  const uint8_t zero = 0;
  const uint8_t alen[2] = {static_cast<uint8_t>(additional_.size() >> 8),
                           static_cast<uint8_t>(additional_.size())};
  const uint8_t addrlen = static_cast<uint8_t>(a.size());
  const uint8_t one = 1;
  // T(1) = HMAC(PRK, info || 0x01): 32 bytes is one HKDF-Expand block.
  return crypto::hmac_sha256(
      prk_.span(),
      {as_bytes(label), {&zero, 1}, {alen, 2}, additional_, {&addrlen, 1}, a, {&one, 1}});
}

crypto::Key Deriver::private_key(const IpAddress& addr) const {
  crypto::Key k = kdf_ == Kdf::kSha3 ? crypto::sha3_256({seed_.span(), additional_, addr.bytes()})
                                     : hkdf_okm("private-key", addr);
  crypto::clamp(k);
  return k;
}

crypto::Key Deriver::public_key(const IpAddress& addr) const {
  return crypto::public_key(private_key(addr));
}

crypto::Key Deriver::preshared_key(const IpAddress& addr) const {
  if (seed_.size() < min_seed_size(Kdf::kHkdf))
    throw InputError("a derived preshared key needs a seed of at least 16 bytes; " +
                     std::string(seed_what_) + " has " + std::to_string(seed_.size()));
  return hkdf_okm("preshared-key", addr);
}

}  // namespace wgnet::keys
