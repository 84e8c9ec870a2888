// Packets in batches: the unit every engine I/O call and the protocol core work on. A packet to
// send lives in a buffer with room in front of it (for the WireGuard transport header when
// encrypting in place) and behind it (padding and the AEAD tag). A received datagram is instead a
// view of the buffer it was read into (with GRO, shared with the datagrams it came with), with no
// room behind it (see Bind).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace wgnet::engine {

// Bytes of the transport data header (type, receiver index, counter) that encryption in place
// puts in front of the plaintext.
inline constexpr size_t kHeadroom = 16;
// Poly1305 tag plus the most padding a packet gets (to a multiple of 16).
inline constexpr size_t kTailroom = 16 + 15;
// The largest IP packet (and so the largest datagram) the engine handles.
inline constexpr size_t kMaxPacket = 65535;
// Size of one packet buffer: any packet with its headroom and tailroom fits.
inline constexpr size_t kBufferSize = kHeadroom + kMaxPacket + kTailroom;

// One packet of a batch; it does not own its buffer (batches are carved from pools that live as
// long as the worker using them).
struct Packet {
  uint8_t* base = nullptr;  // start of the buffer
  uint32_t capacity = 0;    // size of the buffer
  uint32_t offset = 0;      // where the packet's bytes start
  uint32_t size = 0;        // length of the packet

  std::span<uint8_t> bytes() const { return {base + offset, size}; }
  size_t headroom() const { return offset; }
  size_t tailroom() const { return capacity - offset - size; }
};

}  // namespace wgnet::engine
