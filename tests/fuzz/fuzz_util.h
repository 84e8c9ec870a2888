// Helpers shared by the libFuzzer targets: invariant checks that abort (libFuzzer then reports a
// crash and writes the input), the only exceptions a parser may throw, and reading fuzz input.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace wgnet::fuzz {

// An invariant of the code under test: when it fails, print why and abort.
#define FUZZ_CHECK(cond)                                                                       \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "fuzz invariant failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

// Runs `f`; InputError and SystemError (what every parser promises to throw for bad input) mean
// "refused" and return false. Anything else escapes, and libFuzzer reports it as a crash.
template <typename F>
bool accepted(F&& f) {
  try {
    f();
    return true;
  } catch (const InputError&) {
  } catch (const SystemError&) {
  }
  return false;
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Reads fuzz input front to back; every read is bounded by what is left (short reads give zeros
// or less), so a target never has to check lengths itself.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), left_(size) {}
  bool empty() const { return left_ == 0; }
  size_t left() const { return left_; }
  uint8_t u8() {
    if (!left_) return 0;
    left_--;
    return *p_++;
  }
  uint16_t u16() { return static_cast<uint16_t>(u8() | u8() << 8); }
  std::span<const uint8_t> bytes(size_t n) {
    n = std::min(n, left_);
    std::span<const uint8_t> out(p_, n);
    p_ += n;
    left_ -= n;
    return out;
  }
  // A chunk preceded by its 16-bit little-endian length.
  std::span<const uint8_t> chunk() { return bytes(u16()); }
  // Text up to (not including) `delim`, which is consumed; the rest when there is none.
  std::string_view until(char delim) {
    std::string_view rest = as_text(p_, left_);
    size_t at = rest.find(delim);
    std::string_view out = rest.substr(0, at);
    bytes(at == std::string_view::npos ? left_ : at + 1);
    return out;
  }

 private:
  const uint8_t* p_;
  size_t left_;
};

// Looks like a secret as wgnet takes one (base64 or hex, at least 12 characters, a digit or one
// of "+/=" among them): never one of the fixed words of an error message.
inline bool secret_like(std::string_view s) {
  if (s.size() < 12) return false;
  bool marked = false;
  for (char c : s) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '+' && c != '/' && c != '=') return false;
    marked = marked || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
  }
  return marked;
}

// True when `secret` looks like a secret and appears in `text`.
inline bool leaks(std::string_view text, std::string_view secret) {
  return secret_like(secret) && text.find(secret) != std::string_view::npos;
}

// The longest runs of base64/hex characters in `text` that look like secrets.
inline std::vector<std::string_view> secret_runs(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); i++) {
    const char c = i < text.size() ? text[i] : ' ';
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum || c == '+' || c == '/' || c == '=') continue;
    if (secret_like(text.substr(start, i - start))) out.push_back(text.substr(start, i - start));
    start = i + 1;
  }
  return out;
}

}  // namespace wgnet::fuzz
