// Transport keypairs of one peer: the session keys a handshake derived, their counters and replay
// window, and the current / previous / next rotation (wireguard.md "Keypairs").
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "crypto/secure.h"
#include "engine/clock.h"
#include "engine/replay.h"

namespace wgnet::engine {

// Nonces a run of packets may be sealed with: first, first + 1, ..., first + count - 1.
struct NonceRange {
  uint64_t first = 0;
  size_t count = 0;
};

struct Keypair {
  crypto::Key send_key, receive_key;
  // Next nonce to use; never beyond the limit (reserve_nonces), which expire_sending sets it to.
  std::atomic<uint64_t> send_counter{0};
  ReplayFilter replay;  // used only by the peer's ordered receive stage
  Clock::Time created{};
  bool initiator = false;
  uint32_t local_index = 0;   // the index the peer puts in packets to us
  uint32_t remote_index = 0;  // the index we put in packets to the peer

  // Up to `n` nonces below `limit` (REJECT_AFTER_MESSAGES), fewer when the keypair runs out.
  // Called under the peer's tx queue, so a run's nonces are consecutive and in ticket order.
  NonceRange reserve_nonces(size_t n, uint64_t limit);
};
using KeypairPtr = std::shared_ptr<Keypair>;

// Thread-safe. Keypairs are shared: a batch in flight keeps its keypair alive after rotation.
class Keypairs {
 public:
  KeypairPtr current() const;
  KeypairPtr next() const;
  // A fresh session. The initiator uses it at once (current; the old current becomes previous);
  // the responder keeps it as next until the first packet arrives under it. Returns the keypairs
  // that fell out, whose indices the caller retires.
  std::vector<KeypairPtr> install(KeypairPtr fresh);
  // A packet authenticated under `kp`: when kp is next, it becomes current. Returns true when that
  // happened (the responder's handshake is then complete); `dropped` gets the keypair that fell
  // out.
  bool confirm(const KeypairPtr& kp, std::vector<KeypairPtr>& dropped);
  // Forgets every keypair; returns them.
  std::vector<KeypairPtr> clear();
  // Current and next may no longer send (the private key changed): a new handshake is needed.
  void expire_sending(uint64_t reject_after_messages);
  bool empty() const;

 private:
  mutable std::mutex mu_;
  KeypairPtr current_, previous_, next_;
};

}  // namespace wgnet::engine
