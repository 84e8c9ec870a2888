// One peer of a device: who it is, its handshake, keypairs, timers, where it is (endpoint, with
// roaming), what it sent and received, the packets waiting for a handshake, and its two ordered
// queues. Each part has its own lock so the data path rarely contends.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crypto/secure.h"
#include "engine/bind.h"
#include "engine/cookie.h"
#include "engine/keypair.h"
#include "engine/noise.h"
#include "engine/queue.h"
#include "engine/timers.h"

namespace wgnet::engine {

// An IP packet copied aside until a session exists, with room to be encrypted in place.
struct StagedPacket {
  std::vector<uint8_t> buffer;  // kHeadroom + size + kTailroom
  uint32_t size = 0;
};

class Peer : public std::enable_shared_from_this<Peer> {
 public:
  Peer(const crypto::Key& public_key, const Timings& timings, size_t max_staged);
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  const crypto::Key& public_key() const { return public_key_; }
  // "peer(AbCd…xYz=)": a short public name for logs (never key material).
  std::string name() const;

  // The Noise handshake, and when we last sent an initiation (REKEY_TIMEOUT rate limit).
  std::mutex handshake_mu;
  noise::Handshake handshake;
  std::optional<Clock::Time> last_sent_initiation;

  CookieGenerator cookies;
  Keypairs keypairs;
  PeerTimers timers;
  OrderedQueue tx_queue, rx_queue;

  std::optional<NetEndpoint> endpoint() const;
  void set_endpoint(const NetEndpoint& e);
  void clear_endpoint();
  // Forget the local (source) address: after failed handshakes it may be the problem.
  void clear_endpoint_source();

  // Keeps a copy; when full the oldest is dropped (returns true when one was).
  bool stage(std::span<const uint8_t> packet);
  std::vector<StagedPacket> take_staged();
  bool has_staged() const;

  std::atomic<uint64_t> rx_bytes{0}, tx_bytes{0};
  std::atomic<int64_t> last_handshake_ns{0};  // wall clock, since the epoch; 0 = never
  std::atomic<uint16_t> persistent_keepalive{0};
  std::atomic<bool> removed{false};

 private:
  const crypto::Key public_key_;
  const size_t max_staged_;
  mutable std::mutex endpoint_mu_;
  std::optional<NetEndpoint> endpoint_;
  mutable std::mutex staged_mu_;
  std::vector<StagedPacket> staged_;
};

}  // namespace wgnet::engine
