// ChaCha20-Poly1305 on OpenSSL 3's EVP (1.03 GB/s at 1420 B here with a reused context, against
// 0.75 GB/s for libsodium: engine.md) and XChaCha20-Poly1305 on libsodium (not in OpenSSL 3.0).
#include "crypto/aead.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <array>
#include <climits>
#include <cstring>

#include "crypto/random.h"
#include "util/error.h"

namespace wgnet::crypto {

namespace {
const EVP_CIPHER* chacha_cipher() {
  static EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  if (!c) throw SystemError("OpenSSL: ChaCha20-Poly1305 is not available");
  return c;
}

int length(size_t n) {
  if (n > INT_MAX) throw SystemError("aead: message too long");
  return static_cast<int>(n);
}
}  // namespace

ChaChaPoly::ChaChaPoly() : ctx_(EVP_CIPHER_CTX_new()) {
  if (!ctx_) throw SystemError("OpenSSL: cannot allocate a cipher context");
  if (EVP_CipherInit_ex2(ctx_, chacha_cipher(), nullptr, nullptr, 1, nullptr) != 1) {
    EVP_CIPHER_CTX_free(ctx_);
    throw SystemError("OpenSSL: ChaCha20-Poly1305 init failed");
  }
}

ChaChaPoly::~ChaChaPoly() { EVP_CIPHER_CTX_free(ctx_); }

ChaChaPoly& ChaChaPoly::for_this_thread() {
  thread_local ChaChaPoly c;
  return c;
}

void ChaChaPoly::set_key(const Key& key) {
  if (EVP_CipherInit_ex2(ctx_, nullptr, key.data(), nullptr, -1, nullptr) != 1)
    throw SystemError("OpenSSL: ChaCha20-Poly1305 key setup failed");
}

void ChaChaPoly::forget_key() { set_key(Key()); }

namespace {
// WireGuard's nonce: 4 zero bytes, then the counter little-endian.
std::array<uint8_t, 12> counter_nonce(uint64_t counter) {
  std::array<uint8_t, 12> nonce{};
  for (int i = 0; i < 8; i++) nonce[4 + i] = static_cast<uint8_t>(counter >> (8 * i));
  return nonce;
}
}  // namespace

void ChaChaPoly::set_nonce(const uint8_t* nonce, int encrypt) {
  if (EVP_CipherInit_ex2(ctx_, nullptr, nullptr, nonce, encrypt, nullptr) != 1)
    throw SystemError("OpenSSL: ChaCha20-Poly1305 nonce setup failed");
}

void ChaChaPoly::seal(uint64_t counter, std::span<const uint8_t> ad, std::span<const uint8_t> in,
                      uint8_t* out) {
  seal(Nonce(counter_nonce(counter)), ad, in, out);
}

bool ChaChaPoly::open(uint64_t counter, std::span<const uint8_t> ad, std::span<const uint8_t> in,
                      uint8_t* out) {
  return open(Nonce(counter_nonce(counter)), ad, in, out);
}

void ChaChaPoly::seal(Nonce nonce, std::span<const uint8_t> ad, std::span<const uint8_t> in,
                      uint8_t* out) {
  set_nonce(nonce.data(), 1);
  int n = 0;
  bool ok = ad.empty() || EVP_EncryptUpdate(ctx_, nullptr, &n, ad.data(), length(ad.size())) == 1;
  ok = ok && (in.empty() || EVP_EncryptUpdate(ctx_, out, &n, in.data(), length(in.size())) == 1);
  ok = ok && EVP_EncryptFinal_ex(ctx_, out + in.size(), &n) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, kAeadTagSize, out + in.size()) == 1;
  if (!ok) throw SystemError("OpenSSL: ChaCha20-Poly1305 seal failed");
}

bool ChaChaPoly::open(Nonce nonce, std::span<const uint8_t> ad, std::span<const uint8_t> in,
                      uint8_t* out) {
  if (in.size() < kAeadTagSize) return false;
  const size_t body = in.size() - kAeadTagSize;
  // Copied because SET_TAG takes a writable pointer and `in` is const.
  std::array<uint8_t, kAeadTagSize> tag;
  std::memcpy(tag.data(), in.data() + body, kAeadTagSize);
  set_nonce(nonce.data(), 0);
  int n = 0;
  if (!ad.empty() && EVP_DecryptUpdate(ctx_, nullptr, &n, ad.data(), length(ad.size())) != 1)
    return false;
  if (body && EVP_DecryptUpdate(ctx_, out, &n, in.data(), length(body)) != 1) return false;
  if (EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, kAeadTagSize, tag.data()) != 1) return false;
  return EVP_DecryptFinal_ex(ctx_, out + body, &n) == 1;
}

void aead_seal(const Key& key, uint64_t counter, std::span<const uint8_t> ad,
               std::span<const uint8_t> in, uint8_t* out) {
  ChaChaPoly c;
  c.set_key(key);
  c.seal(counter, ad, in, out);
}

bool aead_open(const Key& key, uint64_t counter, std::span<const uint8_t> ad,
               std::span<const uint8_t> in, uint8_t* out) {
  ChaChaPoly c;
  c.set_key(key);
  return c.open(counter, ad, in, out);
}

void xaead_seal(const Key& key, std::span<const uint8_t, kXNonceSize> nonce,
                std::span<const uint8_t> ad, std::span<const uint8_t> in, uint8_t* out) {
  sodium_ready();
  unsigned long long n = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(out, &n, in.data(), in.size(), ad.data(),
                                                 ad.size(), nullptr, nonce.data(), key.data()) != 0)
    throw SystemError("libsodium: XChaCha20-Poly1305 seal failed");
}

bool xaead_open(const Key& key, std::span<const uint8_t, kXNonceSize> nonce,
                std::span<const uint8_t> ad, std::span<const uint8_t> in, uint8_t* out) {
  if (in.size() < kAeadTagSize) return false;
  sodium_ready();
  unsigned long long n = 0;
  return crypto_aead_xchacha20poly1305_ietf_decrypt(out, &n, nullptr, in.data(), in.size(),
                                                    ad.data(), ad.size(), nonce.data(),
                                                    key.data()) == 0;
}

}  // namespace wgnet::crypto
