// X25519 Diffie-Hellman for the Noise handshake (libsodium): shared secrets and fresh private keys.
#pragma once
#include "crypto/secure.h"

namespace wgnet::crypto {

// out = X25519(private_key, public_key). False when the result is all zeros (the public key is a
// low-order point), which WireGuard treats as a failed handshake; out is then zeroed.
[[nodiscard]] bool x25519(Key& out, const Key& private_key, const Key& public_key);

// A fresh random private key, clamped as `wg genkey` does.
Key generate_private_key();

}  // namespace wgnet::crypto
