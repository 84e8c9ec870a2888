// Text encodings of bytes and keys: standard base64 with padding (as `wg` prints keys) and
// lowercase hex (as the UAPI protocol carries them).
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/secure.h"

namespace wgnet::crypto {

std::string base64_encode(std::span<const uint8_t> data);
// Strict: standard alphabet, padding required, no whitespace. nullopt when malformed.
std::optional<std::vector<uint8_t>> base64_decode(std::string_view text);

std::string hex_encode(std::span<const uint8_t> data);
// Appends lowercase hex to `out` without temporaries (for secrets: `out` must have capacity).
void hex_append(std::string& out, std::span<const uint8_t> data);
std::optional<std::vector<uint8_t>> hex_decode(std::string_view text);

std::string key_to_base64(const Key& k);
std::string key_to_hex(const Key& k);
// Parse a 44-character base64 key. Throws InputError naming `what` when malformed or not 32 bytes.
Key key_from_base64(std::string_view text, std::string_view what);
Key key_from_hex(std::string_view text, std::string_view what);
// Base64 secret (a seed): throws InputError naming `what`; the message never echoes the value.
SecretBytes secret_from_base64(std::string_view text, std::string_view what);

}  // namespace wgnet::crypto
