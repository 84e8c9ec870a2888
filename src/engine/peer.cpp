// Peer state that is not protocol logic: endpoint, staged packets, names.
#include "engine/peer.h"

#include <algorithm>

#include "crypto/encoding.h"
#include "engine/packet.h"

namespace wgnet::engine {

bool StagedBudget::take(size_t bytes) {
  size_t used = used_.load(std::memory_order_relaxed);
  do {
    if (bytes > max_ - used) return false;  // (used never passes max_)
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return true;
}

void StagedBudget::give_back(size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

StagedShare& StagedShare::operator=(StagedShare&& o) noexcept {
  if (this != &o) {
    if (budget_) budget_->give_back(bytes_);
    budget_ = std::move(o.budget_);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

StagedShare::~StagedShare() {
  if (budget_) budget_->give_back(bytes_);
}

Peer::Peer(const crypto::Key& public_key, const Timings& timings, size_t max_staged,
           std::shared_ptr<StagedBudget> staged_budget)
    : cookies(timings.cookie_refresh_time),
      timers(timings),
      public_key_(public_key),
      max_staged_(max_staged),
      staged_budget_(std::move(staged_budget)) {
  handshake.remote_static = public_key;
  cookies.init(public_key);
}

std::string Peer::name() const {
  const std::string b64 = crypto::key_to_base64(public_key_);
  return "peer(" + b64.substr(0, 4) + "…" + b64.substr(b64.size() - 5) + ")";
}

std::optional<NetEndpoint> Peer::endpoint() const {
  std::lock_guard lock(endpoint_mu_);
  return endpoint_;
}

void Peer::set_endpoint(const NetEndpoint& e) {
  std::lock_guard lock(endpoint_mu_);
  endpoint_ = e;
}

void Peer::clear_endpoint() {
  std::lock_guard lock(endpoint_mu_);
  endpoint_.reset();
}

void Peer::clear_endpoint_source() {
  std::lock_guard lock(endpoint_mu_);
  if (endpoint_) {
    endpoint_->local.reset();
    endpoint_->local_ifindex = 0;
  }
}

bool Peer::stage(std::span<const uint8_t> packet) {
  if (max_staged_ == 0) return true;
  StagedPacket p;
  const size_t bytes = kHeadroom + packet.size() + kTailroom;
  // A keepalive is free: it is staged only when nothing else is (one small buffer per peer at
  // most), and refusing it would leave a session unconfirmed or a handshake unstarted.
  if (!packet.empty()) {
    if (!staged_budget_->take(bytes)) return true;
    p.share = StagedShare(staged_budget_, bytes);
  }
  p.buffer.resize(bytes);
  std::copy(packet.begin(), packet.end(), p.buffer.begin() + kHeadroom);
  p.size = static_cast<uint32_t>(packet.size());
  std::lock_guard lock(staged_mu_);
  bool dropped = false;
  if (staged_.size() >= max_staged_) {
    staged_.erase(staged_.begin());
    dropped = true;
  }
  staged_.push_back(std::move(p));
  return dropped;
}

std::vector<StagedPacket> Peer::take_staged() {
  std::lock_guard lock(staged_mu_);
  return std::exchange(staged_, {});
}

bool Peer::has_staged() const {
  std::lock_guard lock(staged_mu_);
  return !staged_.empty();
}

}  // namespace wgnet::engine
