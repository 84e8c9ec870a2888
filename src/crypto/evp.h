// The few OpenSSL 3 EVP patterns every hash and MAC wrapper needs: fetching an algorithm once,
// hashing a list of parts, and MACing a list of parts, with contexts freed (and cleansed) on every
// way out.
#pragma once
#include <openssl/types.h>

#include <cstdint>
#include <initializer_list>
#include <span>

#include "crypto/secure.h"

namespace wgnet::crypto::evp {

using Bytes = std::span<const uint8_t>;

// Fetched once by the caller (a function-local static): fetching costs more than hashing 100 bytes.
const EVP_MD* fetch_md(const char* name);
EVP_MAC* fetch_mac(const char* name);

// A 32-byte digest (`md` must produce 32 bytes) of the concatenation of `parts`.
Key digest32(const EVP_MD* md, std::initializer_list<Bytes> parts);
// A MAC context set up once (algorithm and `params`, e.g. HMAC's digest) for several MACs under
// different keys: setting the digest by name costs more than the MAC of a short message, so a
// KDF making four HMACs pays it once. Freeing the context at the end cleanses the key state.
class Mac {
 public:
  Mac(EVP_MAC* mac, const OSSL_PARAM* params);
  ~Mac();
  Mac(const Mac&) = delete;
  Mac& operator=(const Mac&) = delete;
  // MAC of the concatenation of `parts` under `key`, exactly out.size() bytes.
  void compute(Bytes key, std::initializer_list<Bytes> parts, std::span<uint8_t> out);

 private:
  EVP_MAC_CTX* ctx_;
};

// One MAC with a context of its own.
void mac(EVP_MAC* mac, const OSSL_PARAM* params, Bytes key, std::initializer_list<Bytes> parts,
         std::span<uint8_t> out);

}  // namespace wgnet::crypto::evp
