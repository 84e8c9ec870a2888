// Container key derivation: the article's `sha3` scheme and wgnet's `hkdf` scheme (spec keys.md).
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "crypto/secure.h"
#include "util/ip.h"

namespace wgnet::keys {

enum class Kdf { kSha3, kHkdf };

// "sha3" / "hkdf"; throws InputError naming `what` otherwise.
Kdf parse_kdf(std::string_view text, std::string_view what);
const char* kdf_name(Kdf kdf);

// The shortest seed each scheme accepts (hkdf: 16 bytes; sha3: any non-empty seed).
size_t min_seed_size(Kdf kdf);

// Everything a derivation needs besides the address. Validates the seed length on construction
// (throws InputError naming `seed_what`).
class Deriver {
 public:
  Deriver(Kdf kdf, crypto::SecretBytes seed, std::vector<uint8_t> additional,
          std::string_view seed_what = "seed");

  Kdf kdf() const { return kdf_; }
  crypto::Key private_key(const IpAddress& addr) const;
  crypto::Key public_key(const IpAddress& addr) const;
  // The hkdf scheme's preshared key (the same for either kdf: the PSK is always hkdf-derived).
  crypto::Key preshared_key(const IpAddress& addr) const;

 private:
  crypto::Key hkdf_okm(std::string_view label, const IpAddress& addr) const;

  Kdf kdf_;
  crypto::SecretBytes seed_;
  std::vector<uint8_t> additional_;
  crypto::Key prk_;
  std::string seed_what_;  // names the seed in errors  // HKDF-Extract(salt "wgnet-kdf-v1", seed); computed once.
};

}  // namespace wgnet::keys
