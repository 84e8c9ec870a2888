// X25519 through libsodium's crypto_scalarmult, which measured faster than OpenSSL's EVP_PKEY
// derive here (engine.md) and already refuses an all-zero result.
#include "crypto/dh.h"

#include <sodium.h>

#include "crypto/random.h"
#include "crypto/x25519.h"

namespace wgnet::crypto {

bool x25519(Key& out, const Key& private_key, const Key& public_key) {
  sodium_ready();
  if (crypto_scalarmult(out.data(), private_key.data(), public_key.data()) != 0) {
    wipe(out.data(), Key::kSize);
    return false;
  }
  return true;
}

Key generate_private_key() {
  Key k;
  random_bytes({k.data(), Key::kSize});
  clamp(k);
  return k;
}

}  // namespace wgnet::crypto
