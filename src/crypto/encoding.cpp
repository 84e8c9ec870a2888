// Base64 and hex on top of OpenSSL's encoder, with the strictness a key parser needs.
#include "crypto/encoding.h"

#include <openssl/evp.h>

#include "util/error.h"

namespace wgnet::crypto {

std::string base64_encode(std::span<const uint8_t> data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

namespace {
bool is_b64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}
}  // namespace

std::optional<std::vector<uint8_t>> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad++;
  if (text.size() >= 2 && text[text.size() - 2] == '=') pad++;
  for (size_t i = 0; i < text.size() - pad; i++)
    if (!is_b64_char(text[i])) return std::nullopt;
  std::vector<uint8_t> out(text.size() / 4 * 3);
  if (text.empty()) return out;
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<size_t>(n) - pad);
  // Reject non-canonical encodings (stray bits in the last character).
  std::string again = base64_encode(out);
  bool canonical = again == text;
  wipe(again.data(), again.size());
  if (!canonical) {
    wipe(out.data(), out.size());
    return std::nullopt;
  }
  return out;
}

void hex_append(std::string& out, std::span<const uint8_t> data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (uint8_t b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
}

std::string hex_encode(std::span<const uint8_t> data) {
  std::string out;
  out.reserve(data.size() * 2);
  hex_append(out, data);
  return out;
}

std::optional<std::vector<uint8_t>> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<uint8_t> out(text.size() / 2);
  for (size_t i = 0; i < out.size(); i++) {
    int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string key_to_base64(const Key& k) { return base64_encode(k.span()); }
std::string key_to_hex(const Key& k) { return hex_encode(k.span()); }

namespace {
Key key_from_bytes(std::optional<std::vector<uint8_t>> bytes, std::string_view what,
                   std::string_view form) {
  if (!bytes)
    throw InputError(std::string(what) + ": not valid " + std::string(form) +
                     "; expected a 32-byte key as " + std::string(form) +
                     (form == "base64" ? " (44 characters, like `wg genkey` prints)" : ""));
  if (bytes->size() != Key::kSize) {
    size_t n = bytes->size();
    wipe(bytes->data(), bytes->size());
    throw InputError(std::string(what) + ": decodes to " + std::to_string(n) +
                     " bytes; expected a 32-byte key");
  }
  Key k(std::span<const uint8_t, Key::kSize>(bytes->data(), Key::kSize));
  wipe(bytes->data(), bytes->size());
  return k;
}
}  // namespace

Key key_from_base64(std::string_view text, std::string_view what) {
  return key_from_bytes(base64_decode(text), what, "base64");
}

Key key_from_hex(std::string_view text, std::string_view what) {
  return key_from_bytes(hex_decode(text), what, "hex");
}

SecretBytes secret_from_base64(std::string_view text, std::string_view what) {
  auto bytes = base64_decode(text);
  if (!bytes)
    throw InputError(std::string(what) +
                     ": not valid base64; expected standard base64 with padding (e.g. the output "
                     "of `base64`)");
  SecretBytes s(*bytes);
  wipe(bytes->data(), bytes->size());
  return s;
}

}  // namespace wgnet::crypto
