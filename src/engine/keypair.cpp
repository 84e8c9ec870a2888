// Keypair rotation as wireguard-go and the Linux driver do it.
#include "engine/keypair.h"

#include <algorithm>

namespace wgnet::engine {

NonceRange Keypair::reserve_nonces(size_t n, uint64_t limit) {
  // Compare-and-swap, not fetch_add: adding first and checking after would carry the counter past
  // the limit by whatever callers asked for, and, added often enough, around 2^64 to nonces
  // already used. expire_sending may store the limit meanwhile; then the swap fails and we retry.
  uint64_t first = send_counter.load(std::memory_order_relaxed);
  NonceRange r;
  do {
    if (first >= limit) return {first, 0};
    r = {first, static_cast<size_t>(std::min<uint64_t>(n, limit - first))};
  } while (!send_counter.compare_exchange_weak(first, first + r.count, std::memory_order_relaxed));
  return r;
}

KeypairPtr Keypairs::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

KeypairPtr Keypairs::next() const {
  std::lock_guard lock(mu_);
  return next_;
}

std::vector<KeypairPtr> Keypairs::install(KeypairPtr fresh) {
  std::lock_guard lock(mu_);
  std::vector<KeypairPtr> dropped;
  auto drop = [&](KeypairPtr& k) {
    if (k) dropped.push_back(std::move(k));
    k.reset();
  };
  if (fresh->initiator) {
    drop(previous_);
    if (next_) {
      // A session we answered never got confirmed; it outranks the current one as "previous"
      // because the peer may already be sending under it.
      previous_ = std::move(next_);
      next_.reset();
      drop(current_);
    } else {
      previous_ = std::move(current_);
      current_.reset();
    }
    current_ = std::move(fresh);
  } else {
    drop(next_);
    drop(previous_);
    next_ = std::move(fresh);
  }
  return dropped;
}

bool Keypairs::confirm(const KeypairPtr& kp, std::vector<KeypairPtr>& dropped) {
  std::lock_guard lock(mu_);
  if (!next_ || next_ != kp) return false;
  if (previous_) dropped.push_back(std::move(previous_));
  previous_ = std::move(current_);
  current_ = std::move(next_);
  next_.reset();
  return true;
}

std::vector<KeypairPtr> Keypairs::clear() {
  std::lock_guard lock(mu_);
  std::vector<KeypairPtr> out;
  for (auto* k : {&current_, &previous_, &next_})
    if (*k) out.push_back(std::move(*k));
  current_.reset();
  previous_.reset();
  next_.reset();
  return out;
}

void Keypairs::expire_sending(uint64_t reject_after_messages) {
  std::lock_guard lock(mu_);
  if (current_) current_->send_counter.store(reject_after_messages);
  if (next_) next_->send_counter.store(reject_after_messages);
}

bool Keypairs::empty() const {
  std::lock_guard lock(mu_);
  return !current_ && !previous_ && !next_;
}

}  // namespace wgnet::engine
