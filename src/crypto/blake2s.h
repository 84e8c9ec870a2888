// BLAKE2s as WireGuard uses it, from OpenSSL 3: the 32-byte hash, HMAC-BLAKE2s, the keyed
// 16-byte MAC (not a truncated hash) and the Noise KDF built on HMAC.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>

#include "crypto/secure.h"

namespace wgnet::crypto {

using Bytes = std::span<const uint8_t>;
using Mac16 = std::array<uint8_t, 16>;

// BLAKE2s-256 of the concatenation of `parts`.
Key blake2s(std::initializer_list<Bytes> parts);
// HMAC with BLAKE2s-256 (64-byte blocks) of the concatenation of `parts`.
Key hmac_blake2s(Bytes key, std::initializer_list<Bytes> parts);
// Keyed BLAKE2s with a 16-byte digest (key of 1 to 32 bytes): WireGuard's MAC for mac1, mac2
// and cookies.
Mac16 blake2s_mac(Bytes key, std::initializer_list<Bytes> parts);

// WireGuard's KDFn: prk = HMAC(key, input); T1 = HMAC(prk, 0x01); Ti = HMAC(prk, T(i-1) ‖ i).
// Fills out[0..n) for n = out.size(), 1 to 3.
void kdf(Bytes key, Bytes input, std::span<Key> out);

template <size_t N>
std::array<Key, N> kdf(Bytes key, Bytes input) {
  static_assert(N >= 1 && N <= 3);
  std::array<Key, N> out;
  kdf(key, input, out);
  return out;
}

}  // namespace wgnet::crypto
