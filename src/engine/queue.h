// The ordered per-peer queues of the three-stage data path (docs/ENGINE.md "Threads and order"):
// a batch is split into runs, one per peer (and keypair); each run takes a ticket in its peer's
// queue in the serial stage, is encrypted or decrypted in parallel, and is delivered (sent or
// written) strictly in ticket order by whichever thread completes the oldest outstanding run.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "engine/bind.h"
#include "engine/keypair.h"
#include "engine/packet.h"

namespace wgnet::engine {

class Peer;
class Batch;

// One peer's share of a batch, under one keypair.
struct Run {
  std::shared_ptr<Peer> peer;
  KeypairPtr keypair;
  std::vector<Packet> packets;       // views into the batch owner's buffers
  std::vector<uint64_t> counters;    // nonce per packet
  std::vector<uint8_t> ok;           // crypto succeeded, per packet
  std::vector<NetEndpoint> sources;  // inbound: where each datagram came from
  Batch* batch = nullptr;
  bool ready = false;  // guarded by the peer queue's lock

  void reset();
};

// A worker's batch: the runs of one prepare/crypt/complete cycle. Owned and reused by one worker;
// its packet buffers stay in use until in_flight() is false (another worker may be the one that
// sends them, in ticket order).
class Batch {
 public:
  Batch() = default;
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  // Waits until no run of it is queued: a batch must not vanish from under another worker.
  virtual ~Batch() { wait(); }

  // True while some of its runs wait in a peer queue: the buffers are still in use.
  bool in_flight() const { return pending_.load(std::memory_order_acquire) > 0; }
  // Waits until in_flight() is false (yielding; the runs ahead are in other workers' crypto stage).
  void wait() const;

 private:
  friend class Device;
  // The run of (peer, keypair) in this cycle, added if new.
  Run& run_for(const std::shared_ptr<Peer>& peer, const KeypairPtr& keypair);
  std::span<const std::unique_ptr<Run>> runs() const { return {runs_.data(), used_}; }
  void reset();
  // A run left its queue (delivered or dropped). The last one runs on_released_, which may destroy
  // the batch: the caller must not touch it afterwards.
  void release_one() {
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) != 1 || !on_released_) return;
    auto done = std::move(on_released_);  // a local: the batch may die while it runs
    done();
  }

  std::vector<std::unique_ptr<Run>> runs_;
  size_t used_ = 0;
  std::atomic<size_t> pending_{0};
  std::function<void()> on_released_;  // for batches the device owns (keepalives, staged packets)
};

class OutboundBatch : public Batch {};
class InboundBatch : public Batch {};

// One peer's queue for one direction. Thread-safe. Memory: nothing until used.
class OrderedQueue {
 public:
  // Takes a ticket for `run`. `assign` runs under the queue's lock, so whatever it numbers (the
  // nonces) follows ticket order.
  template <typename F>
  void push(Run* run, F&& assign) {
    std::lock_guard lock(mu_);
    assign();
    q_.push_back(run);
  }
  // Marks `run` done. If the head of the queue is done and no other thread is delivering, this
  // thread delivers every done run from the head, in order. `deliver` must not throw.
  void finish(Run* run, const std::function<void(Run*)>& deliver);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::vector<Run*> q_;  // q_[head_..] are the outstanding runs, oldest first
  size_t head_ = 0;
  bool draining_ = false;
};

}  // namespace wgnet::engine
