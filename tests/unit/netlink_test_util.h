// Shared by the netlink tests: byte-building helpers for expected messages, and a robustness check
// (every truncation and many small corruptions of a valid buffer are parsed; each must be accepted
// or refused with SystemError, nothing else, and the caller asserts which truncations may be
// accepted).
#pragma once
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <random>
#include <vector>

#include "crypto/secure.h"
#include "netlink/message.h"
#include "util/error.h"

namespace wgnet::netlink::test {

using Bytes = std::vector<uint8_t>;

// `n` bytes of `v`.
inline Bytes rep(uint8_t v, size_t n) { return Bytes(n, v); }

inline Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// A key of 32 bytes `fill`; one told apart by its index (never all zeros).
inline crypto::Key key_of(uint8_t fill) {
  std::array<uint8_t, 32> b;
  b.fill(fill);
  return crypto::Key(b);
}
inline crypto::Key key_of_index(uint32_t i) {
  std::array<uint8_t, 32> b{};
  b[0] = 0x80;
  std::memcpy(b.data() + 1, &i, sizeof i);
  return crypto::Key(b);
}

struct DamageOutcome {
  std::vector<size_t> accepted_truncations;  // lengths of truncated copies the parser accepted
  size_t truncations_refused = 0;
  size_t corruptions_accepted = 0;
  size_t corruptions_refused = 0;
};

// Whole-message boundaries of `valid` (0 included): where a truncated dump is still well formed.
inline std::vector<size_t> message_boundaries(const std::vector<uint8_t>& valid) {
  std::vector<size_t> out{0};
  size_t at = 0;
  for (const auto& m : parse_messages(valid)) {
    at += NLMSG_ALIGN(m.header.nlmsg_len);
    if (at < valid.size()) out.push_back(at);
  }
  return out;
}

template <typename Parse>
DamageOutcome parse_damaged_copies(const std::vector<uint8_t>& valid, Parse parse, uint32_t seed) {
  // True when accepted, false when refused with SystemError; anything else fails the test.
  auto attempt = [&](const std::vector<uint8_t>& buf) {
    try {
      parse(buf);
      return true;
    } catch (const SystemError&) {
      return false;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "a damaged buffer of " << buf.size() << " bytes threw " << e.what();
      return false;
    }
  };
  DamageOutcome out;
  // Copies of exactly `len` bytes, so a read past the end is a heap overflow sanitizers see.
  for (size_t len = 0; len < valid.size(); ++len) {
    if (attempt(std::vector<uint8_t>(valid.begin(), valid.begin() + static_cast<long>(len))))
      out.accepted_truncations.push_back(len);
    else
      out.truncations_refused++;
  }
  // Small lies in an otherwise valid buffer: lengths are where parsers go wrong.
  std::mt19937 rng(seed);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> buf = valid;
    for (int k = 0; k < 4; ++k) buf[rng() % buf.size()] = static_cast<uint8_t>(rng());
    if (attempt(buf))
      out.corruptions_accepted++;
    else
      out.corruptions_refused++;
  }
  return out;
}

}  // namespace wgnet::netlink::test
