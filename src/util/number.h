// Unsigned decimal numbers from text (protocol fields, command lines, the environment): digits
// only, no sign, no space, at most `max`. The one parser of such numbers.
#pragma once
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/error.h"

namespace wgnet {

inline std::optional<uint64_t> parse_uint(std::string_view text, uint64_t max) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || n > max)
    return std::nullopt;
  return n;
}

// parse_uint, or InputError "WHAT: expected a number up to MAX, got 'TEXT'" (for what a user
// typed: never a secret).
inline uint64_t parse_number(std::string_view text, std::string_view what, uint64_t max) {
  if (auto n = parse_uint(text, max)) return *n;
  throw InputError(std::string(what) + ": expected a number up to " + std::to_string(max) +
                   ", got '" + std::string(text) + "'");
}

}  // namespace wgnet
