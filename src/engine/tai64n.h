// TAI64N timestamps for handshake initiations: they must grow from one initiation to the next, so
// a responder refuses a replayed initiation. Nanoseconds are rounded down to a multiple of 2^24
// (≈16.8 ms) so the timestamp does not leak precise timing.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>

#include "engine/messages.h"

namespace wgnet::engine {

using Tai64n = std::array<uint8_t, kTimestampSize>;

// 8 bytes big-endian 0x400000000000000a + Unix seconds, 4 bytes big-endian nanoseconds.
Tai64n tai64n(std::chrono::system_clock::time_point wall);
// Big-endian fields make byte order the time order.
inline bool after(const Tai64n& a, const Tai64n& b) { return a > b; }

}  // namespace wgnet::engine
