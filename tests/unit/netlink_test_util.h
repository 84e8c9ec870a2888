// Robustness check shared by the netlink parser tests: every truncation and many small
// corruptions of a valid buffer are parsed; each must be accepted or refused with SystemError,
// nothing else, and the caller asserts which truncations may be accepted.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "netlink/message.h"
#include "util/error.h"

namespace wgnet::netlink::test {

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
