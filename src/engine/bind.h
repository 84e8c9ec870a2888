// The engine's UDP side ("bind", as in wireguard-go's conn.Bind): datagrams in and out in
// batches, with the local address each arrived on so replies leave from the same address
// (sticky source). The Linux implementation (udp_linux.h) uses recvmmsg/sendmmsg, UDP_GRO and
// UDP_SEGMENT; tests use an in-memory network.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "engine/packet.h"
#include "util/ip.h"
#include "wgconf/config.h"

namespace wgnet::engine {

// Where a datagram came from / goes to: the remote address and port, plus (when known) the local
// address and interface it arrived on, used as the source of what is sent back.
struct NetEndpoint {
  wg::Endpoint remote;
  std::optional<IpAddress> local;  // IP_PKTINFO / IPV6_PKTINFO of the last datagram received
  int local_ifindex = 0;
  bool operator==(const NetEndpoint&) const = default;
};

// What a bind did (diagnostics: `wgnet-engine`, InterfaceInfo); a bind may count only some.
struct BindStats {
  uint64_t rx_datagrams = 0;       // handed out by receive()
  uint64_t rx_syscalls = 0;        // recvmmsg calls that returned datagrams
  uint64_t rx_coalesced = 0;       // GRO super-datagrams split
  uint64_t rx_dropped = 0;         // truncated, or segments beyond the batch
  uint64_t tx_datagrams = 0;       // sent
  uint64_t tx_syscalls = 0;        // sendmmsg calls
  uint64_t tx_gso_batches = 0;     // UDP_SEGMENT messages
  uint64_t tx_dropped = 0;         // refused by the kernel (no route, buffer full, ...)
  uint64_t tx_source_retries = 0;  // sends retried without a source address that was gone
};

class Bind {
 public:
  virtual ~Bind() = default;
  // Receives the datagrams waiting, at most packets.size(), into the buffers of `packets` (each
  // at its offset, set by the caller), with their sources in from[i]. Returns how many (0 when
  // none is waiting; never blocks); the first that many entries of `packets` then describe the
  // datagrams, in order, as views of the buffers they were read into, with no room behind them:
  // a GRO super-datagram comes out split without copying, and an entry may point into another
  // entry's buffer. The caller restores every entry (base, capacity, offset) before the next
  // receive.
  virtual size_t receive(std::span<Packet> packets, std::span<NetEndpoint> from) = 0;
  // Sends the datagrams, in order, to `to`, from to.local when set (a source address that no
  // longer exists is dropped and the send retried without it). Uses as few syscalls as the
  // kernel allows (UDP_SEGMENT for runs of equal size). Unreachable destinations are counted,
  // not thrown.
  virtual void send(std::span<const Packet> datagrams, const NetEndpoint& to) = 0;
  // The port bound (IPv4 and IPv6 share it).
  virtual uint16_t port() const = 0;
  // SO_MARK for what is sent (wg's fwmark); 0 clears it.
  virtual void set_mark(uint32_t mark) = 0;
  virtual size_t batch_size() const = 0;
  // The descriptors an event loop waits on: readable means receive() has datagrams. None for a
  // bind that is not driven by readiness (the tests' in-memory network).
  virtual std::vector<int> poll_fds() const { return {}; }
  virtual BindStats stats() const { return {}; }
};

// Opens binds: the device asks for a new one when its listen port changes. Port 0 = any free port.
class BindFactory {
 public:
  virtual ~BindFactory() = default;
  virtual std::unique_ptr<Bind> open(uint16_t port) = 0;
};

}  // namespace wgnet::engine
