// The encrypt path (TUN → UDP) and everything the device sends on its own: handshake
// initiations, keepalives and staged packets. Packets are encrypted in place: the transport
// header goes into the headroom, padding and tag into the tailroom.
#include <cstring>

#include "crypto/aead.h"
#include "engine/device.h"
#include "engine/ip_packet.h"
#include "util/log.h"

namespace wgnet::engine {

namespace {

// Plaintext length after padding to a multiple of 16, never beyond the MTU for a packet that fits
// it (wireguard.md "Data path").
size_t padded_size(size_t size, uint32_t mtu) {
  size_t padded = (size + kPaddingMultiple - 1) / kPaddingMultiple * kPaddingMultiple;
  if (mtu && size <= mtu && padded > mtu) padded = mtu;
  return padded;
}

}  // namespace

// ---- the three stages ----

void Device::prepare_outbound(std::span<Packet> packets, OutboundBatch& batch) {
  batch.wait();
  batch.reset();
  const auto now = clock_.now();
  {
    std::shared_lock cfg(config_mu_);
    if (!up_) return;
    Peer* last_peer = nullptr;  // consecutive packets mostly go to one peer
    Run* last_run = nullptr;
    for (Packet& p : packets) {
      auto header = inner_header(p.bytes());
      if (!header) {
        count(&DeviceCounters::invalid_packet);
        continue;
      }
      Peer* peer = allowed_ips_.lookup(header->destination);
      if (!peer) {
        count(&DeviceCounters::no_route);
        continue;
      }
      if (peer != last_peer) {
        last_run = &batch.run_for(peer->shared_from_this(), nullptr);
        last_peer = peer;
      }
      last_run->packets.push_back(p);
    }
  }
  std::vector<PeerPtr> initiate;
  for (const auto& r : batch.runs()) {
    const auto kp = r->peer->keypairs.current();
    if (!usable_for_sending(kp, now)) {
      stage_from(*r, 0);
      r->packets.clear();
      initiate.push_back(r->peer);
      continue;
    }
    r->keypair = kp;
    batch.pending_.fetch_add(1, std::memory_order_relaxed);
    if (stage_from(*r, take_ticket(*r))) initiate.push_back(r->peer);
  }
  for (auto& peer : initiate) send_initiation(peer, false);
  for (const auto& r : batch.runs())
    if (r->keypair) after_send_checks(r->peer, r->keypair);
}

size_t Device::take_ticket(Run& r) {
  NonceRange nonces;
  r.peer->tx_queue.push(&r, [&] {
    nonces = r.keypair->reserve_nonces(r.packets.size(), options_.timings.reject_after_messages);
  });
  // Packets past the keypair's last nonce are not sealed: they wait for the next session.
  r.ok.assign(r.packets.size(), 0);
  r.counters.resize(r.packets.size());
  for (size_t i = 0; i < nonces.count; i++) {
    r.ok[i] = 1;
    r.counters[i] = nonces.first + i;
  }
  return nonces.count;
}

bool Device::stage_from(Run& r, size_t first) {
  for (size_t i = first; i < r.packets.size(); i++) {
    if (r.peer->stage(r.packets[i].bytes())) count(&DeviceCounters::staged_dropped);
    count(&DeviceCounters::staged);
  }
  return first < r.packets.size();
}

void Device::seal_run(Run& r) {
  auto& cipher = crypto::ChaChaPoly::for_this_thread();  // keyed once per run, cleared after
  cipher.set_key(r.keypair->send_key);
  const uint32_t mtu = tun_.mtu();
  for (size_t i = 0; i < r.packets.size(); i++) {
    if (!r.ok[i]) continue;
    Packet& p = r.packets[i];
    const size_t padded = padded_size(p.size, mtu);
    if (p.headroom() < kTransportHeaderSize || p.tailroom() < padded - p.size + kTagSize) {
      r.ok[i] = 0;
      count(&DeviceCounters::invalid_packet);
      continue;
    }
    uint8_t* body = p.base + p.offset;
    std::memset(body + p.size, 0, padded - p.size);
    uint8_t* header = body - kTransportHeaderSize;
    set_type(header, MessageType::kTransport);
    store_le32(header + 4, r.keypair->remote_index);
    store_le64(header + 8, r.counters[i]);
    cipher.seal(r.counters[i], {}, {body, padded}, body);
    p.offset -= kTransportHeaderSize;
    p.size = static_cast<uint32_t>(kTransportHeaderSize + padded + kTagSize);
  }
  cipher.forget_key();
}

void Device::encrypt(OutboundBatch& batch) {
  for (const auto& r : batch.runs())
    if (r->keypair) seal_run(*r);
}

void Device::complete(OutboundBatch& batch) {
  // Held for the duration, so the batch (possibly one the device owns) outlives this loop even
  // when its last run is delivered by this thread.
  batch.pending_.fetch_add(1, std::memory_order_relaxed);
  for (const auto& r : batch.runs())
    if (r->keypair) r->peer->tx_queue.finish(r.get(), [this](Run* x) { deliver_outbound(x); });
  batch.release_one();
}

void Device::send(std::span<Packet> packets, OutboundBatch& batch) {
  prepare_outbound(packets, batch);
  encrypt(batch);
  complete(batch);
}

void Device::deliver_outbound(Run* r) {
  Peer& peer = *r->peer;
  size_t n = 0;
  uint64_t bytes = 0;
  bool data = false;
  for (size_t i = 0; i < r->packets.size(); i++) {
    if (!r->ok[i]) continue;
    bytes += r->packets[i].size;
    data |= r->packets[i].size > kKeepaliveSize;
    r->packets[n++] = r->packets[i];
  }
  if (n && !peer.removed) {
    const auto to = peer.endpoint();
    const auto b = bind();
    if (!to) {
      count(&DeviceCounters::no_endpoint);
    } else if (b) {
      try {
        b->send({r->packets.data(), n}, *to);
        peer.tx_bytes += bytes;
      } catch (const std::exception& e) {
        log::debug(std::string("engine: send failed: ") + e.what());
      }
    }
    const auto now = clock_.now();
    schedule(r->peer,
             peer.timers.any_authenticated_packet_traversal(now, peer.persistent_keepalive.load()));
    peer.timers.any_authenticated_packet_sent();
    if (data) schedule(r->peer, peer.timers.data_sent(now));
  }
  release(r);
}

void Device::release(Run* r) { r->batch->release_one(); }

// ---- what the device sends by itself ----

void Device::after_send_checks(const PeerPtr& peer, const KeypairPtr& kp) {
  // The initiator renews a session before it gets old or its nonces run low.
  if (kp->initiator &&
      (kp->send_counter.load(std::memory_order_relaxed) >= options_.timings.rekey_after_messages ||
       clock_.now() - kp->created >= options_.timings.rekey_after_time))
    send_initiation(peer, false);
}

void Device::send_staged(const PeerPtr& peer) {
  if (!peer->has_staged() || peer->removed || !is_up()) return;
  const auto now = clock_.now();
  const auto kp = peer->keypairs.current();
  if (!usable_for_sending(kp, now)) {
    send_initiation(peer, false);
    return;
  }
  auto owned = std::make_unique<OwnedBatch>();
  owned->packets = peer->take_staged();
  if (owned->packets.empty()) return;
  OwnedBatch* ob = owned.get();
  Run& r = ob->batch.run_for(peer, kp);
  for (auto& sp : ob->packets)
    r.packets.push_back(Packet{sp.buffer.data(), static_cast<uint32_t>(sp.buffer.size()),
                               static_cast<uint32_t>(kHeadroom), sp.size});
  {
    std::lock_guard lock(owned_mu_);
    owned_.push_front(std::move(owned));
    ob->self = owned_.begin();
  }
  ob->batch.on_released_ = [this, ob] {
    std::lock_guard lock(owned_mu_);
    owned_.erase(ob->self);  // destroys the batch: nothing may touch it after this
  };
  ob->batch.pending_.store(1, std::memory_order_relaxed);
  const bool exhausted = stage_from(r, take_ticket(r));
  seal_run(r);
  complete(ob->batch);
  if (exhausted)
    send_initiation(peer, false);
  else
    after_send_checks(peer, kp);
}

void Device::send_keepalive(const PeerPtr& peer) {
  if (!peer->has_staged()) peer->stage({});
  count(&DeviceCounters::keepalives_sent);
  send_staged(peer);
}

void Device::send_initiation(const PeerPtr& peer, bool retry) {
  if (peer->removed) return;
  const auto now = clock_.now();
  if (!retry) peer->timers.reset_handshake_attempts();
  const auto id = identity();  // before the handshake lock: config_mu_ comes first
  MessageInitiation msg;
  {
    std::lock_guard hs(peer->handshake_mu);
    if (peer->removed) return;  // (see handle_initiation)
    if (peer->last_sent_initiation &&
        now - *peer->last_sent_initiation < options_.timings.rekey_timeout)
      return;
    peer->last_sent_initiation = now;
    if (peer->handshake.local_index) index_table_.remove(peer->handshake.local_index);
    const uint32_t index = index_table_.add_handshake(peer);
    if (!noise::create_initiation(peer->handshake, id, tai64n(clock_.wall()), index, msg)) {
      index_table_.remove(index);
      peer->handshake.local_index = 0;
      return;
    }
  }
  peer->cookies.add_macs(bytes_of(msg), now);
  schedule(peer,
           peer->timers.any_authenticated_packet_traversal(now, peer->persistent_keepalive.load()));
  peer->timers.any_authenticated_packet_sent();
  send_datagram(*peer, bytes_of(msg));
  count(&DeviceCounters::initiations_sent);
  schedule(peer, peer->timers.handshake_initiated(now));
}

void Device::send_datagram(Peer& peer, std::span<uint8_t> datagram) {
  const auto to = peer.endpoint();
  if (!to) {
    count(&DeviceCounters::no_endpoint);
    return;
  }
  send_to(*to, datagram);
  peer.tx_bytes += datagram.size();
}

void Device::send_to(const NetEndpoint& to, std::span<uint8_t> datagram) {
  const auto b = bind();
  if (!b) return;
  const Packet p{datagram.data(), static_cast<uint32_t>(datagram.size()), 0,
                 static_cast<uint32_t>(datagram.size())};
  try {
    b->send({&p, 1}, to);
  } catch (const std::exception& e) {
    log::debug(std::string("engine: send failed: ") + e.what());
  }
}

}  // namespace wgnet::engine
