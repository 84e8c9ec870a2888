// TAI64N encoding (the 10 s TAI-UTC offset of the label is part of the format, not a leap-second
// correction).
#include "engine/tai64n.h"

namespace wgnet::engine {

Tai64n tai64n(std::chrono::system_clock::time_point wall) {
  using namespace std::chrono;
  const auto since = wall.time_since_epoch();
  const auto secs = duration_cast<seconds>(since);
  const auto nanos = duration_cast<nanoseconds>(since - secs).count();
  const uint64_t s = 0x400000000000000aULL + static_cast<uint64_t>(secs.count());
  const uint32_t ns = static_cast<uint32_t>(nanos) & ~((uint32_t{1} << 24) - 1);
  Tai64n t;
  for (int i = 0; i < 8; i++) t[i] = static_cast<uint8_t>(s >> (56 - 8 * i));
  for (int i = 0; i < 4; i++) t[8 + i] = static_cast<uint8_t>(ns >> (24 - 8 * i));
  return t;
}

}  // namespace wgnet::engine
