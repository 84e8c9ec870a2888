// The decrypt path (UDP → TUN) in wireguard.md's receive order — receiver index, keypair age,
// decrypt, replay check after authentication and in order, trim to the IP length, cryptokey
// routing check of the inner source — and the handshake queue (mac1, cookies under load, rate
// limit, Noise).
#include <chrono>
#include <cstring>

#include "crypto/aead.h"
#include "engine/device.h"
#include "engine/ip_packet.h"
#include "util/log.h"

namespace wgnet::engine {

namespace {
// How long a device stays "under load" after its handshake queue was last 1/8 full.
constexpr auto kUnderLoadAfter = std::chrono::seconds(1);
}  // namespace

void Device::prepare_inbound(std::span<Packet> datagrams, std::span<const NetEndpoint> from,
                             InboundBatch& batch) {
  batch.wait();
  batch.reset();
  const auto now = clock_.now();
  bool queued = false;
  // Datagrams of a batch mostly belong to one session: look its index up once.
  std::optional<uint32_t> last_index;
  std::optional<IndexTable::Entry> entry;
  for (size_t i = 0; i < datagrams.size() && i < from.size(); i++) {
    const auto d = datagrams[i].bytes();
    switch (message_type(d)) {
      case static_cast<uint8_t>(MessageType::kTransport): {
        if (d.size() < kKeepaliveSize) break;
        const uint32_t index = load_le32(d.data() + 4);
        if (index != last_index) {
          entry = index_table_.lookup(index);
          last_index = index;
        }
        if (!entry || !entry->keypair) {
          count(&DeviceCounters::unknown_index);
          continue;
        }
        if (now - entry->keypair->created >= options_.timings.reject_after_time) {
          count(&DeviceCounters::expired_keypair);
          continue;
        }
        const uint64_t counter = load_le64(d.data() + 8);
        if (counter >= options_.timings.reject_after_messages) {
          count(&DeviceCounters::replayed);
          continue;
        }
        Run& r = batch.run_for(entry->peer, entry->keypair);
        r.packets.push_back(datagrams[i]);
        r.counters.push_back(counter);
        r.sources.push_back(from[i]);
        continue;
      }
      case static_cast<uint8_t>(MessageType::kInitiation):
      case static_cast<uint8_t>(MessageType::kResponse): {
        const bool initiation = d[0] == static_cast<uint8_t>(MessageType::kInitiation);
        if (d.size() != (initiation ? kInitiationSize : kResponseSize)) break;
        std::lock_guard lock(handshake_mu_);
        if (handshake_queue_len_ >= options_.handshake_queue_size) {
          count(&DeviceCounters::handshake_queue_full);
          continue;
        }
        auto& job = handshake_queue_.emplace_back();
        std::memcpy(job.bytes.data(), d.data(), d.size());
        job.size = d.size();
        job.from = from[i];
        handshake_queue_len_++;
        queued = true;
        continue;
      }
      case static_cast<uint8_t>(MessageType::kCookieReply):
        if (d.size() != kCookieReplySize) break;
        handle_cookie_reply(d);
        continue;
      default:
        break;
    }
    count(&DeviceCounters::malformed);
  }
  for (const auto& r : batch.runs()) {
    r->ok.assign(r->packets.size(), 0);
    batch.pending_.fetch_add(1, std::memory_order_relaxed);
    r->peer->rx_queue.push(r.get(), [] {});
  }
  if (queued && events_) events_->handshakes_pending(*this);
}

void Device::open_run(Run& r) {
  auto& cipher = crypto::ChaChaPoly::for_this_thread();  // keyed once per run, cleared after
  cipher.set_key(r.keypair->receive_key);
  for (size_t i = 0; i < r.packets.size(); i++) {
    Packet& p = r.packets[i];
    uint8_t* body = p.base + p.offset + kTransportHeaderSize;
    const size_t sealed = p.size - kTransportHeaderSize;
    r.ok[i] = cipher.open(r.counters[i], {}, {body, sealed}, body);
    if (r.ok[i]) {
      p.offset += kTransportHeaderSize;
      p.size = static_cast<uint32_t>(sealed - kTagSize);
    }
  }
  cipher.forget_key();
}

void Device::decrypt(InboundBatch& batch) {
  for (const auto& r : batch.runs()) open_run(*r);
}

void Device::complete(InboundBatch& batch) {
  batch.pending_.fetch_add(1, std::memory_order_relaxed);
  for (const auto& r : batch.runs())
    r->peer->rx_queue.finish(r.get(), [this](Run* x) { deliver_inbound(x); });
  batch.release_one();
}

void Device::receive(std::span<Packet> datagrams, std::span<const NetEndpoint> from,
                     InboundBatch& batch) {
  prepare_inbound(datagrams, from, batch);
  decrypt(batch);
  complete(batch);
}

void Device::deliver_inbound(Run* r) {
  const PeerPtr& peer = r->peer;
  const auto& kp = r->keypair;
  size_t n = 0;
  uint64_t bytes = 0;
  bool data = false;
  const NetEndpoint* last_source = nullptr;
  {
    std::shared_lock cfg(config_mu_);  // allowed IPs
    for (size_t i = 0; i < r->packets.size(); i++) {
      if (!r->ok[i]) {
        count(&DeviceCounters::decrypt_failed);
        continue;
      }
      // In ticket order, after authentication: a forged counter cannot move the window.
      if (!kp->replay.accept(r->counters[i], options_.timings.reject_after_messages)) {
        count(&DeviceCounters::replayed);
        continue;
      }
      Packet& p = r->packets[i];
      last_source = &r->sources[i];
      bytes += p.size + kKeepaliveSize;
      if (p.size == 0) continue;  // keepalive
      const auto header = inner_header(p.bytes());
      if (!header) {
        count(&DeviceCounters::invalid_packet);
        continue;
      }
      if (allowed_ips_.lookup(header->source) != peer.get()) {
        count(&DeviceCounters::source_not_allowed);
        continue;
      }
      p.size = static_cast<uint32_t>(header->length);  // the padding goes
      r->packets[n++] = p;
      data = true;
    }
  }
  bool confirmed = false;
  if (last_source && !peer->removed) {
    std::vector<KeypairPtr> dropped;
    if (peer->keypairs.confirm(kp, dropped)) {  // the responder's new session is in use
      retire(dropped);
      handshake_completed(*peer);
      confirmed = true;
    }
    peer->set_endpoint(*last_source);  // roaming: the last authenticated source wins
    peer->rx_bytes += bytes;
    const auto now = clock_.now();
    schedule(peer, peer->timers.any_authenticated_packet_traversal(
                       now, peer->persistent_keepalive.load()));
    peer->timers.any_authenticated_packet_received();
    if (data) schedule(peer, peer->timers.data_received(now));
    // The initiator renews a session it is about to lose, once, when it hears from the peer.
    const auto current = peer->keypairs.current();
    const auto& t = options_.timings;
    if (current && current->initiator &&
        now - current->created >= t.reject_after_time - t.keepalive_timeout - t.rekey_timeout &&
        peer->timers.take_last_minute_handshake())
      send_initiation(peer, false);
  }
  if (n && !peer->removed) {
    try {
      tun_.write({r->packets.data(), n});
    } catch (const std::exception& e) {
      log::debug(std::string("engine: TUN write failed: ") + e.what());
    }
  }
  // Keep the peer alive across release: a device-owned batch may be freed by it.
  const PeerPtr keep = peer;
  release(r);
  if (confirmed) send_staged(keep);
}

void Device::handshake_completed(Peer& peer) {
  peer.timers.handshake_complete();
  peer.last_handshake_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.wall().time_since_epoch())
          .count();
  count(&DeviceCounters::handshakes_completed);
}

// ---- handshakes ----

size_t Device::pending_handshakes() const {
  std::lock_guard lock(handshake_mu_);
  return handshake_queue_len_;
}

size_t Device::process_handshakes(size_t max) {
  size_t n = 0;
  for (; n < max; n++) {
    HandshakeJob job;
    bool under_load = false;
    {
      std::lock_guard lock(handshake_mu_);
      if (handshake_queue_.empty()) break;
      const auto now = clock_.now();
      if (handshake_queue_len_ >= std::max<size_t>(options_.handshake_queue_size / 8, 1))
        under_load_until_ = now + kUnderLoadAfter;
      under_load = now < under_load_until_;
      job = handshake_queue_.front();
      handshake_queue_.pop_front();
      handshake_queue_len_--;
    }
    handle_handshake(job, under_load);
  }
  return n;
}

void Device::handle_handshake(const HandshakeJob& job, bool under_load) {
  const auto msg = job.message();
  const auto now = clock_.now();
  std::optional<MessageCookieReply> reply;
  {
    std::shared_lock cfg(config_mu_);  // the checker's keys change with the private key
    if (!cookie_checker_.mac1_valid(msg)) {
      count(&DeviceCounters::bad_mac1);
      return;
    }
    if (under_load && !cookie_checker_.mac2_valid(msg, job.from.remote, now))
      reply = cookie_checker_.make_reply(msg, load_le32(msg.data() + 4), job.from.remote, now);
  }
  if (reply) {
    send_to(job.from, bytes_of(*reply));
    count(&DeviceCounters::cookie_replies_sent);
    return;
  }
  if (under_load) {
    if (!rate_limiter_.allow(job.from.remote.address, now)) {
      count(&DeviceCounters::rate_limited);
      return;
    }
  }
  if (msg[0] == static_cast<uint8_t>(MessageType::kInitiation))
    handle_initiation(job);
  else
    handle_response(job);
}

void Device::handle_initiation(const HandshakeJob& job) {
  const auto msg = message_from<MessageInitiation>(job.message());
  const auto id = identity();
  noise::SymmetricState state;
  crypto::Key initiator;
  PeerPtr peer;
  if (noise::open_initiation(msg, id, state, initiator)) {
    std::shared_lock cfg(config_mu_);
    peer = find_peer(initiator);
  }
  if (!peer) {
    count(&DeviceCounters::handshake_failed);
    return;
  }
  const auto now = clock_.now();
  MessageResponse response;
  std::optional<noise::SessionKeys> keys;
  uint32_t index = 0;
  {
    std::lock_guard hs(peer->handshake_mu);
    // remove_peer marks the peer before it clears the handshake under this lock: seen false
    // here, the clearing comes after us and takes our index too.
    if (peer->removed) return;
    if (!noise::consume_initiation(msg, state, peer->handshake, now,
                                   options_.timings.handshake_initiation_rate)) {
      count(&DeviceCounters::handshake_failed);
      return;
    }
    // Our own initiation in flight, if any, is superseded by the peer's.
    if (peer->handshake.local_index) index_table_.remove(peer->handshake.local_index);
    index = index_table_.add_handshake(peer);
    if (!noise::create_response(peer->handshake, index, response)) {
      index_table_.remove(index);
      peer->handshake.clear();
      count(&DeviceCounters::handshake_failed);
      return;
    }
    keys = noise::derive_session(peer->handshake);
  }
  peer->cookies.add_macs(bytes_of(response), now);
  // Installed (as "next") before the response leaves: the initiator may send data at once.
  const auto kp = make_keypair(*keys);
  if (!install_session(*peer, kp)) return;
  peer->set_endpoint(job.from);
  peer->rx_bytes += job.size;
  schedule(peer, peer->timers.session_derived(now));
  schedule(peer,
           peer->timers.any_authenticated_packet_traversal(now, peer->persistent_keepalive.load()));
  peer->timers.any_authenticated_packet_received();
  peer->timers.any_authenticated_packet_sent();
  send_datagram(*peer, bytes_of(response));
  count(&DeviceCounters::responses_sent);
}

void Device::handle_response(const HandshakeJob& job) {
  const auto msg = message_from<MessageResponse>(job.message());
  const uint32_t index = load_le32(msg.receiver);
  const auto entry = index_table_.lookup(index);
  if (!entry || entry->keypair) {
    count(&DeviceCounters::unknown_index);
    return;
  }
  const PeerPtr& peer = entry->peer;
  const auto id = identity();
  std::optional<noise::SessionKeys> keys;
  {
    std::lock_guard hs(peer->handshake_mu);
    if (peer->removed) return;
    if (!noise::consume_response(msg, peer->handshake, id)) {
      count(&DeviceCounters::handshake_failed);
      return;
    }
    keys = noise::derive_session(peer->handshake);
  }
  const auto now = clock_.now();
  const auto kp = make_keypair(*keys);
  if (!install_session(*peer, kp)) return;
  peer->set_endpoint(job.from);
  peer->rx_bytes += job.size;
  schedule(peer,
           peer->timers.any_authenticated_packet_traversal(now, peer->persistent_keepalive.load()));
  peer->timers.any_authenticated_packet_received();
  schedule(peer, peer->timers.session_derived(now));
  handshake_completed(*peer);
  send_keepalive(peer);  // confirms the session to the responder (and carries staged packets)
}

void Device::handle_cookie_reply(std::span<const uint8_t> datagram) {
  const auto msg = message_from<MessageCookieReply>(datagram);
  const auto entry = index_table_.lookup(load_le32(msg.receiver));
  if (!entry) {
    count(&DeviceCounters::unknown_index);
    return;
  }
  if (entry->peer->cookies.consume_reply(msg, clock_.now()))
    count(&DeviceCounters::cookie_replies_accepted);
}

}  // namespace wgnet::engine
