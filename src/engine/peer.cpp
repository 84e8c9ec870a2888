// Peer state that is not protocol logic: endpoint, staged packets, names.
#include "engine/peer.h"

#include <algorithm>

#include "crypto/encoding.h"
#include "engine/packet.h"

namespace wgnet::engine {

Peer::Peer(const crypto::Key& public_key, const Timings& timings, size_t max_staged)
    : cookies(timings.cookie_refresh_time),
      timers(timings),
      public_key_(public_key),
      max_staged_(max_staged) {
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
  StagedPacket p;
  p.buffer.resize(kHeadroom + packet.size() + kTailroom);
  std::copy(packet.begin(), packet.end(), p.buffer.begin() + kHeadroom);
  p.size = static_cast<uint32_t>(packet.size());
  std::lock_guard lock(staged_mu_);
  bool dropped = false;
  if (max_staged_ == 0) return true;
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
