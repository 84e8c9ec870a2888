// The real Publisher: wgnetd listens on the host's published ports itself and relays each TCP
// connection and UDP flow through a socket it opens inside the container's network namespace, so
// the container needs no interface, route or NAT rule for it (Linux only).
#pragma once
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "portmap/publisher.h"

namespace wgnet::portmap {

struct RelayOptions {
  // A UDP flow (one client address) with no datagram either way for this long is forgotten, and
  // its socket in the container closed. Expiry is checked every quarter of it.
  std::chrono::steady_clock::duration udp_idle_timeout = std::chrono::seconds(60);
  // Per binding. A TCP connection beyond the cap is accepted and closed at once (a refusal the
  // client sees at once, rather than a backlog that fills); a new UDP client beyond it evicts
  // the least recently active flow.
  std::size_t max_tcp_connections = 1024;
  std::size_t max_udp_flows = 1024;
  // In all, over every binding: each holds two descriptors (and a TCP connection 64 KiB), so a
  // flood on published ports cannot take the descriptors the rest of wgnetd needs. Beyond it a
  // new TCP connection is closed at once and a new UDP client takes its port's least recent flow.
  std::size_t max_relayed = 16384;
};

// Threads: publish() and unpublish() may be called from any number of threads at once (they are
// serialized); they bind in the calling thread and return once the relay's own I/O thread has
// taken the change on. That one thread, started by the constructor, does all the relaying.
class Relay final : public Publisher {
 public:
  // Throws SystemError when the relay's own network namespace cannot be opened.
  explicit Relay(RelayOptions options = {});
  // Closes every listener, connection and flow, and joins the I/O thread.
  ~Relay() override;
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Also throws InputError when a binding fails validate() or `target` names no network
  // namespace (an unmounted SandboxKey) or no address. No bindings: as unpublish(key).
  void publish(const std::string& key, const Target& target,
               const std::vector<Binding>& bindings) override;
  void unpublish(const std::string& key) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wgnet::portmap
