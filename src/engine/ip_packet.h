// The little the core reads from inner IP packets: the destination (to route), the source (to
// check against the sender's allowed IPs) and the length (to strip the padding).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace wgnet::engine {

struct InnerHeader {
  std::span<const uint8_t> source, destination;  // 4 or 16 bytes each
  size_t length = 0;                             // total length the header declares
};

// The header of an IPv4 or IPv6 packet whose declared length fits in `packet`; nullopt otherwise.
inline std::optional<InnerHeader> inner_header(std::span<const uint8_t> packet) {
  if (packet.empty()) return std::nullopt;
  InnerHeader h;
  switch (packet[0] >> 4) {
    case 4:
      if (packet.size() < 20) return std::nullopt;
      h.length = size_t{packet[2]} << 8 | packet[3];
      if (h.length < 20) return std::nullopt;
      h.source = packet.subspan(12, 4);
      h.destination = packet.subspan(16, 4);
      break;
    case 6:
      if (packet.size() < 40) return std::nullopt;
      h.length = 40 + (size_t{packet[4]} << 8 | packet[5]);
      h.source = packet.subspan(8, 16);
      h.destination = packet.subspan(24, 16);
      break;
    default:
      return std::nullopt;
  }
  if (h.length > packet.size()) return std::nullopt;
  return h;
}

}  // namespace wgnet::engine
