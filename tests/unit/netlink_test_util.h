// Robustness check shared by the netlink parser tests: every truncation and many small
// corruptions of a valid buffer may be refused with SystemError, but nothing else may happen.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "util/error.h"

namespace wgnet::netlink::test {

template <typename Parse>
void parse_damaged_copies(const std::vector<uint8_t>& valid, Parse parse, uint32_t seed) {
  auto attempt = [&](const std::vector<uint8_t>& buf) {
    try {
      parse(buf);
    } catch (const SystemError&) {
    }
  };
  // Copies of exactly `len` bytes, so a read past the end is a heap overflow sanitizers see.
  for (size_t len = 0; len < valid.size(); ++len)
    attempt(std::vector<uint8_t>(valid.begin(), valid.begin() + static_cast<long>(len)));
  // Small lies in an otherwise valid buffer: lengths are where parsers go wrong.
  std::mt19937 rng(seed);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> buf = valid;
    for (int k = 0; k < 4; ++k) buf[rng() % buf.size()] = static_cast<uint8_t>(rng());
    attempt(buf);
  }
}

}  // namespace wgnet::netlink::test
