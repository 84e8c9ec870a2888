// TUN offloads in userspace: the virtio-net header, Internet checksums, splitting a TSO/USO
// super-packet read from a TUN into segments, and coalescing segments into super-packets to write.
// Pure functions over byte buffers (no syscalls), so unit tests and fuzzers drive them directly.
#pragma once
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/packet.h"

namespace wgnet::engine::offload {

// The 10-byte header IFF_VNET_HDR puts in front of every TUN read and write. Declared here because
// Debian 12's <linux/virtio_net.h> does not compile as C++. Legacy virtio: fields in the host's
// byte order (TUNSETVNETLE is never set).
struct VirtioNetHdr {
  uint8_t flags = 0;
  uint8_t gso_type = 0;
  uint16_t hdr_len = 0;      // advisory: never trusted, recomputed from the headers
  uint16_t gso_size = 0;     // payload bytes per segment
  uint16_t csum_start = 0;   // where the checksum computation starts (the transport header)
  uint16_t csum_offset = 0;  // where, after csum_start, the checksum is stored

  static VirtioNetHdr decode(std::span<const uint8_t, 10> bytes);
  void encode(std::span<uint8_t, 10> bytes) const;
  bool operator==(const VirtioNetHdr&) const = default;
};
inline constexpr size_t kVirtioNetHdrLen = 10;

inline constexpr uint8_t kFlagNeedsCsum = 1;
inline constexpr uint8_t kFlagDataValid = 2;

inline constexpr uint8_t kGsoNone = 0;
inline constexpr uint8_t kGsoTcpV4 = 1;
inline constexpr uint8_t kGsoUdp = 3;  // old UFO (IP fragmentation): refused
inline constexpr uint8_t kGsoTcpV6 = 4;
inline constexpr uint8_t kGsoUdpL4 = 5;
inline constexpr uint8_t kGsoEcn = 0x80;

inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;

// The most segments one coalesced super-packet holds (the kernel's limit for UDP GSO; TCP is held
// to the same so one write never carries more than the reader side would split).
inline constexpr size_t kMaxCoalesceSegments = 64;

// ---- Checksums (RFC 1071) ------------------------------------------------------------------

// Adds the bytes, as big-endian 16-bit words (an odd last byte padded with zero), to `sum`.
uint64_t checksum_add(std::span<const uint8_t> bytes, uint64_t sum = 0);
// Folds a sum to 16 bits (not complemented).
uint16_t checksum_fold(uint64_t sum);
// The sum of the TCP/UDP pseudo-header: addresses (4 or 16 bytes each), protocol, length.
uint64_t pseudo_header_sum(std::span<const uint8_t> src, std::span<const uint8_t> dst,
                           uint8_t protocol, uint32_t length);
// The complemented checksum to store: ~fold(sum over bytes + initial).
uint16_t checksum(std::span<const uint8_t> bytes, uint64_t initial = 0);

// ---- Reading: super-packet -> segments -----------------------------------------------------

enum class SplitStatus {
  kOk,
  kUnsupported,  // a GSO type refused (UFO, unknown) or IPv6 extension headers
  kMalformed,    // lengths or headers that do not describe a packet
  kNoRoom,       // an output buffer is too small for its segment, or overlaps the input
};
struct SplitResult {
  SplitStatus status = SplitStatus::kOk;
  size_t emitted = 0;  // segments written to out
  size_t total = 0;    // segments the packet holds
};

// Splits the packet `in` (what followed the virtio-net header) into segments written to out[k]
// at out[k].offset, setting out[k].size. Starts with segment `first`; writes
// min(total - first, out.size()) of them. out[0] may be the very place `in` lives (out[0].base +
// out[0].offset == in.data(), first == 0): the first segment is then completed in place. No other
// output may overlap `in`. A packet without GSO comes out as one segment, its checksum completed
// when the header asks for it (NEEDS_CSUM). Every length is validated; on an error nothing
// useful is in out.
SplitResult gso_split(const VirtioNetHdr& hdr, std::span<uint8_t> in, std::span<Packet> out,
                      size_t first = 0);

// The number of segments `in` splits into, or 0 when gso_split would refuse it.
size_t gso_segment_count(const VirtioNetHdr& hdr, std::span<const uint8_t> in);

// ---- Writing: segments -> super-packets ----------------------------------------------------

// One write to the TUN: `hdr`, then packets[index] (the first packet, whose headers coalesce
// rewrote for the super-packet), then the payload of each packet chained to it (see coalesce).
struct TunWrite {
  uint32_t index = 0;
  uint32_t count = 1;  // packets the write carries: the first and those chained to it
  VirtioNetHdr hdr;
};
// Ends a chain of packets in coalesce's `next`.
inline constexpr uint32_t kEndOfWrite = UINT32_MAX;

struct CoalesceOptions {
  bool udp = false;  // the kernel accepts UDP_L4 GSO writes (TUN_F_USO4/6 were accepted)
};

// Groups the packets, in order, into writes: consecutive TCP segments of one flow (and UDP
// datagrams of one flow when options.udp) become one super-packet with a GSO virtio header; every
// other packet is written alone with an empty header. A packet joins a super-packet only when its
// checksums verify, its IP header equals the first one's (no options, no fragments), it continues
// the sequence with the same ACK, window and options, its payload is not longer than the first
// one's, the super-packet stays within 65535 bytes, and the super-packet ends with it if it is
// shorter or carries PSH. Nothing is copied: the first packet's headers are rewritten in place
// (lengths, checksum, PSH) and next[k] names the packet whose payload follows packet k's in its
// write (kEndOfWrite after the last); packets keep their bytes, wherever their buffers are (they
// may be adjacent slices of one buffer). writes.size() and next.size() must be at least
// packets.size(); returns how many writes were filled, in the order they must be made.
size_t coalesce(std::span<Packet> packets, const CoalesceOptions& options,
                std::span<TunWrite> writes, std::span<uint32_t> next);

// The bytes of write `w` after its header, as iovecs: the first packet whole, then the payload
// (what follows hdr.hdr_len bytes of headers) of each packet chained to it. Returns how many were
// filled (w.count), or 0 when `out` is too short (kMaxCoalesceSegments is always enough), the
// chain does not match w.count, or a chained packet is shorter than hdr.hdr_len: what coalesce
// returns never does that.
size_t write_pieces(std::span<const Packet> packets, std::span<const uint32_t> next,
                    const TunWrite& w, std::span<iovec> out);

}  // namespace wgnet::engine::offload
