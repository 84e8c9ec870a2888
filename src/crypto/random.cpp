// libsodium's CSPRNG and sodium_memcmp behind the small interface of random.h.
#include "crypto/random.h"

#include <sodium.h>

#include "util/error.h"

namespace wgnet::crypto {

void sodium_ready() {
  // sodium_init is itself thread-safe; the static makes later calls a plain load.
  static const int ok = sodium_init();
  if (ok < 0) throw SystemError("libsodium: initialisation failed");
}

void random_bytes(std::span<uint8_t> out) {
  sodium_ready();
  randombytes_buf(out.data(), out.size());
}

uint32_t random_u32() {
  sodium_ready();
  return randombytes_random();
}

uint32_t random_below(uint32_t bound) {
  sodium_ready();
  return randombytes_uniform(bound);
}

bool equal_ct(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  sodium_ready();
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace wgnet::crypto
