// X25519 from OpenSSL: clamping and public keys of private keys.
#pragma once
#include "crypto/secure.h"

namespace wgnet::crypto {

// X25519 private-key clamping, as `wg genkey` does.
inline void clamp(Key& k) {
  k.data()[0] &= 248;
  k.data()[31] = static_cast<uint8_t>((k.data()[31] & 127) | 64);
}

// The X25519 public key (scalar times the base point) of `private_key`.
Key public_key(const Key& private_key);
// The same through OpenSSL's EVP interface: an independent implementation for cross-checks.
Key public_key_openssl(const Key& private_key);

}  // namespace wgnet::crypto
