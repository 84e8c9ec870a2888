// The AEADs of WireGuard: ChaCha20-Poly1305 (RFC 8439) from OpenSSL through a reusable context,
// for handshakes and the data path, and XChaCha20-Poly1305 from libsodium for cookie replies.
#pragma once
#include <openssl/types.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/secure.h"

namespace wgnet::crypto {

inline constexpr size_t kAeadTagSize = 16;

// A ChaCha20-Poly1305 context: set a key once, then seal or open many messages, each with its
// own 64-bit counter (nonce = 4 zero bytes ‖ little-endian counter). Measured here: the key costs
// ≈150 ns to set, so the data path sets it once per run of packets, not per packet. Not
// thread-safe: one per thread.
class ChaChaPoly {
 public:
  ChaChaPoly();
  ~ChaChaPoly();
  ChaChaPoly(const ChaChaPoly&) = delete;
  ChaChaPoly& operator=(const ChaChaPoly&) = delete;
  // One context per thread, made on first use: the data path keys it once per run of packets
  // and calls forget_key() after the run.
  static ChaChaPoly& for_this_thread();

  void set_key(const Key& key);
  // Overwrites the key held by the context, so it does not outlive its use.
  void forget_key();
  // Writes in.size() bytes of ciphertext then the 16-byte tag to out; out may equal in.data().
  void seal(uint64_t counter, std::span<const uint8_t> ad, std::span<const uint8_t> in,
            uint8_t* out);
  // `in` is ciphertext ‖ tag; writes in.size() - 16 bytes of plaintext to out (out may equal
  // in.data()). False when the tag does not verify (compared in constant time by OpenSSL) or in
  // is shorter than a tag; out's content is then garbage.
  [[nodiscard]] bool open(uint64_t counter, std::span<const uint8_t> ad,
                          std::span<const uint8_t> in, uint8_t* out);
  // The same with a full 12-byte nonce (RFC 8439's general form).
  using Nonce = std::span<const uint8_t, 12>;
  void seal(Nonce nonce, std::span<const uint8_t> ad, std::span<const uint8_t> in, uint8_t* out);
  [[nodiscard]] bool open(Nonce nonce, std::span<const uint8_t> ad, std::span<const uint8_t> in,
                          uint8_t* out);

 private:
  void set_nonce(const uint8_t* nonce, int encrypt);
  EVP_CIPHER_CTX* ctx_;
};

// One-shot forms with a context of their own (handshake messages).
void aead_seal(const Key& key, uint64_t counter, std::span<const uint8_t> ad,
               std::span<const uint8_t> in, uint8_t* out);
[[nodiscard]] bool aead_open(const Key& key, uint64_t counter, std::span<const uint8_t> ad,
                             std::span<const uint8_t> in, uint8_t* out);

inline constexpr size_t kXNonceSize = 24;
// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha) with a 24-byte nonce; same layout as above.
void xaead_seal(const Key& key, std::span<const uint8_t, kXNonceSize> nonce,
                std::span<const uint8_t> ad, std::span<const uint8_t> in, uint8_t* out);
[[nodiscard]] bool xaead_open(const Key& key, std::span<const uint8_t, kXNonceSize> nonce,
                              std::span<const uint8_t> ad, std::span<const uint8_t> in,
                              uint8_t* out);

}  // namespace wgnet::crypto
