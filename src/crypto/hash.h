// Hashes and MACs the key schemes use, all from OpenSSL: SHA3-256 and HMAC/HKDF-SHA256.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <span>

#include "crypto/secure.h"

namespace wgnet::crypto {

// SHA3-256 (FIPS 202) over the concatenation of `parts`.
Key sha3_256(std::initializer_list<std::span<const uint8_t>> parts);

// HMAC-SHA256(key, concatenation of `parts`).
Key hmac_sha256(std::span<const uint8_t> key,
                std::initializer_list<std::span<const uint8_t>> parts);

}  // namespace wgnet::crypto
