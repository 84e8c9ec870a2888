// SHA3-256 and HMAC-SHA256 through OpenSSL 3's EVP interfaces, with fetched algorithms cached
// once per process (fetching per call costs more than the hash itself).
#include "crypto/hash.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>

#include "util/error.h"

namespace wgnet::crypto {

namespace {
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct MacCtxFree {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

const EVP_MD* sha3_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA3-256", nullptr);
  if (!md) throw SystemError("OpenSSL: SHA3-256 is not available");
  return md;
}

EVP_MAC* hmac_mac() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!mac) throw SystemError("OpenSSL: HMAC is not available");
  return mac;
}
}  // namespace

Key sha3_256(std::initializer_list<std::span<const uint8_t>> parts) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), sha3_md(), nullptr) != 1)
    throw SystemError("OpenSSL: SHA3-256 init failed");
  for (auto p : parts)
    if (EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1)
      throw SystemError("OpenSSL: SHA3-256 update failed");
  Key out;
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &n) != 1 || n != Key::kSize)
    throw SystemError("OpenSSL: SHA3-256 final failed");
  return out;
}

Key hmac_sha256(std::span<const uint8_t> key,
                std::initializer_list<std::span<const uint8_t>> parts) {
  std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx(EVP_MAC_CTX_new(hmac_mac()));
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (!ctx || EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1)
    throw SystemError("OpenSSL: HMAC-SHA256 init failed");
  for (auto p : parts)
    if (EVP_MAC_update(ctx.get(), p.data(), p.size()) != 1)
      throw SystemError("OpenSSL: HMAC-SHA256 update failed");
  Key out;
  size_t n = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &n, Key::kSize) != 1 || n != Key::kSize)
    throw SystemError("OpenSSL: HMAC-SHA256 final failed");
  return out;
}

}  // namespace wgnet::crypto
