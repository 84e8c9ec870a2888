// SHA3-256 and HMAC-SHA256 through OpenSSL 3's EVP interfaces (evp.h), with fetched algorithms
// cached once per process (fetching per call costs more than the hash itself).
#include "crypto/hash.h"

#include <openssl/core_names.h>
#include <openssl/params.h>

#include "crypto/evp.h"

namespace wgnet::crypto {

Key sha3_256(std::initializer_list<std::span<const uint8_t>> parts) {
  static const EVP_MD* md = evp::fetch_md("SHA3-256");
  return evp::digest32(md, parts);
}

Key hmac_sha256(std::span<const uint8_t> key,
                std::initializer_list<std::span<const uint8_t>> parts) {
  static EVP_MAC* hmac = evp::fetch_mac("HMAC");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  Key out;
  evp::mac(hmac, params, key, parts, {out.data(), Key::kSize});
  return out;
}

}  // namespace wgnet::crypto
