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
#include <utility>
#include <vector>

#include "crypto/secure.h"
#include "engine/bind.h"
#include "engine/cookie.h"
#include "engine/keypair.h"
#include "engine/noise.h"
#include "engine/queue.h"
#include "engine/timers.h"

namespace wgnet::engine {

// The bytes all peers of a device may keep staged together (DeviceOptions::max_staged_bytes).
// Thread-safe.
class StagedBudget {
 public:
  explicit StagedBudget(size_t max) : max_(max) {}
  // False when `bytes` more would pass the budget.
  bool take(size_t bytes);
  void give_back(size_t bytes);

 private:
  const size_t max_;
  std::atomic<size_t> used_{0};
};

// A staged packet's bytes of its device's budget, given back when the packet is freed: so the
// budget is right however the packet goes (sent, dropped, its peer removed, the device closed),
// and the budget lives as long as the last packet that holds some of it.
class StagedShare {
 public:
  StagedShare() = default;
  StagedShare(std::shared_ptr<StagedBudget> budget, size_t bytes)
      : budget_(std::move(budget)), bytes_(bytes) {}
  StagedShare(StagedShare&& o) noexcept
      : budget_(std::move(o.budget_)), bytes_(std::exchange(o.bytes_, 0)) {}
  StagedShare& operator=(StagedShare&& o) noexcept;
  ~StagedShare();

 private:
  std::shared_ptr<StagedBudget> budget_;
  size_t bytes_ = 0;
};

// An IP packet copied aside until a session exists, with room to be encrypted in place.
struct StagedPacket {
  std::vector<uint8_t> buffer;  // kHeadroom + size + kTailroom
  uint32_t size = 0;
  StagedShare share;  // of the device's budget: the buffer's size (none for a keepalive)
};

class Peer : public std::enable_shared_from_this<Peer> {
 public:
  Peer(const crypto::Key& public_key, const Timings& timings, size_t max_staged,
       std::shared_ptr<StagedBudget> staged_budget);
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

  // Keeps a copy; when the peer's queue is full the oldest is dropped, when the device's budget
  // is spent this one is (returns true when one was).
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
  const std::shared_ptr<StagedBudget> staged_budget_;
  mutable std::mutex endpoint_mu_;
  std::optional<NetEndpoint> endpoint_;
  mutable std::mutex staged_mu_;
  std::vector<StagedPacket> staged_;
};

}  // namespace wgnet::engine
