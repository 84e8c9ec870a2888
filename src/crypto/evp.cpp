// EVP digest and MAC calls with RAII contexts and one error path (SystemError naming the step).
#include "crypto/evp.h"

#include <openssl/evp.h>

#include <memory>
#include <string>

#include "util/error.h"

namespace wgnet::crypto::evp {

namespace {
struct Free {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
}  // namespace

const EVP_MD* fetch_md(const char* name) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (!md) throw SystemError(std::string("OpenSSL: ") + name + " is not available");
  return md;
}

EVP_MAC* fetch_mac(const char* name) {
  EVP_MAC* m = EVP_MAC_fetch(nullptr, name, nullptr);
  if (!m) throw SystemError(std::string("OpenSSL: ") + name + " is not available");
  return m;
}

Key digest32(const EVP_MD* md, std::initializer_list<Bytes> parts) {
  std::unique_ptr<EVP_MD_CTX, Free> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1)
    throw SystemError("OpenSSL: digest init failed");
  for (auto p : parts)
    if (EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1)
      throw SystemError("OpenSSL: digest update failed");
  Key out;
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &n) != 1 || n != Key::kSize)
    throw SystemError("OpenSSL: digest final failed");
  return out;
}

Mac::Mac(EVP_MAC* mac, const OSSL_PARAM* params) : ctx_(EVP_MAC_CTX_new(mac)) {
  if (!ctx_) throw SystemError("OpenSSL: cannot allocate a MAC context");
  if (EVP_MAC_CTX_set_params(ctx_, params) != 1) {
    EVP_MAC_CTX_free(ctx_);
    throw SystemError("OpenSSL: MAC parameters refused");
  }
}

Mac::~Mac() { EVP_MAC_CTX_free(ctx_); }

void Mac::compute(Bytes key, std::initializer_list<Bytes> parts, std::span<uint8_t> out) {
  // An empty key must still be a key: OpenSSL reads a null pointer as "no key given".
  static const uint8_t kNoBytes = 0;
  if (EVP_MAC_init(ctx_, key.empty() ? &kNoBytes : key.data(), key.size(), nullptr) != 1)
    throw SystemError("OpenSSL: MAC init failed");
  for (auto p : parts)
    if (EVP_MAC_update(ctx_, p.data(), p.size()) != 1)
      throw SystemError("OpenSSL: MAC update failed");
  size_t n = 0;
  if (EVP_MAC_final(ctx_, out.data(), &n, out.size()) != 1 || n != out.size())
    throw SystemError("OpenSSL: MAC final failed");
}

void mac(EVP_MAC* mac, const OSSL_PARAM* params, Bytes key, std::initializer_list<Bytes> parts,
         std::span<uint8_t> out) {
  Mac(mac, params).compute(key, parts, out);
}

}  // namespace wgnet::crypto::evp
