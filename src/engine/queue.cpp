// Ordered delivery without a dedicated sender thread: the "draining" flag makes exactly one thread
// deliver at a time, and a thread that finds the head not ready leaves its run for the one that
// will make it ready (the check happens under the lock, so no run is forgotten).
#include "engine/queue.h"

#include <thread>

namespace wgnet::engine {

void Run::reset() {
  peer.reset();
  keypair.reset();
  packets.clear();
  counters.clear();
  ok.clear();
  sources.clear();
  batch = nullptr;
  ready = false;
}

void Batch::wait() const {
  while (in_flight()) std::this_thread::yield();
}

Run& Batch::run_for(const std::shared_ptr<Peer>& peer, const KeypairPtr& keypair) {
  for (size_t i = 0; i < used_; i++)
    if (runs_[i]->peer == peer && runs_[i]->keypair == keypair) return *runs_[i];
  if (used_ == runs_.size()) runs_.push_back(std::make_unique<Run>());
  Run& r = *runs_[used_++];
  r.reset();
  r.peer = peer;
  r.keypair = keypair;
  r.batch = this;
  return r;
}

void Batch::reset() {
  for (size_t i = 0; i < used_; i++) runs_[i]->reset();
  used_ = 0;
  pending_.store(0, std::memory_order_relaxed);
}

void OrderedQueue::finish(Run* run, const std::function<void(Run*)>& deliver) {
  std::unique_lock lock(mu_);
  run->ready = true;
  if (draining_) return;
  draining_ = true;
  while (head_ < q_.size() && q_[head_]->ready) {
    Run* head = q_[head_++];
    if (head_ == q_.size()) {
      q_.clear();
      head_ = 0;
    }
    lock.unlock();
    deliver(head);
    lock.lock();
  }
  draining_ = false;
}

size_t OrderedQueue::size() const {
  std::lock_guard lock(mu_);
  return q_.size() - head_;
}

}  // namespace wgnet::engine
