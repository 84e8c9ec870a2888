// Randomness and constant-time comparison from libsodium, and the one place that initialises it.
#pragma once
#include <cstdint>
#include <span>

namespace wgnet::crypto {

// Initialises libsodium once per process (thread-safe; later calls are free). Every wrapper that
// calls libsodium calls this first, so callers never have to.
void sodium_ready();

// Cryptographically secure random bytes.
void random_bytes(std::span<uint8_t> out);
uint32_t random_u32();
// Uniform in [0, bound) without modulo bias; bound > 0.
uint32_t random_below(uint32_t bound);

// True when a and b have the same size and contents; the time depends only on the size.
bool equal_ct(std::span<const uint8_t> a, std::span<const uint8_t> b);

}  // namespace wgnet::crypto
