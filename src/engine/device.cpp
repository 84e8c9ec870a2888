// The device's configuration, lifecycle, status and timers. Configuration follows wireguard-go's
// UAPI semantics operation by operation (device/uapi.go is the reference), so `wg` sees the same
// results and the same errnos on an engine interface as on wireguard-go.
#include "engine/device.h"

#include <cerrno>
#include <mutex>
#include <unordered_set>

#include "crypto/dh.h"
#include "crypto/x25519.h"
#include "util/error.h"
#include "util/log.h"

namespace wgnet::engine {

namespace {
std::string key_bytes(const crypto::Key& k) {
  return std::string(reinterpret_cast<const char*>(k.data()), crypto::Key::kSize);
}
}  // namespace

Device::Device(Tun& tun, BindFactory& binds, const Clock& clock, DeviceOptions options,
               DeviceEvents* events)
    : tun_(tun),
      binds_(binds),
      clock_(clock),
      options_(std::move(options)),
      events_(events),
      staged_budget_(std::make_shared<StagedBudget>(options_.max_staged_bytes)),
      cookie_checker_(options_.timings.cookie_refresh_time),
      rate_limiter_(options_.rate_limits) {}

Device::~Device() {
  std::unique_lock cfg(config_mu_);
  for (auto& p : peers_) {
    p->removed = true;
    p->timers.stop();
  }
}

void Device::count(uint64_t DeviceCounters::*field, uint64_t n) {
  std::atomic_ref<uint64_t>(counters_.*field).fetch_add(n, std::memory_order_relaxed);
}

DeviceCounters Device::counters() const {
  // Every field is a uint64_t updated through atomic_ref; read each the same way.
  static constexpr uint64_t DeviceCounters::*kFields[] = {&DeviceCounters::no_route,
                                                          &DeviceCounters::invalid_packet,
                                                          &DeviceCounters::staged,
                                                          &DeviceCounters::staged_dropped,
                                                          &DeviceCounters::unknown_index,
                                                          &DeviceCounters::expired_keypair,
                                                          &DeviceCounters::decrypt_failed,
                                                          &DeviceCounters::replayed,
                                                          &DeviceCounters::source_not_allowed,
                                                          &DeviceCounters::malformed,
                                                          &DeviceCounters::handshake_queue_full,
                                                          &DeviceCounters::bad_mac1,
                                                          &DeviceCounters::cookie_replies_sent,
                                                          &DeviceCounters::cookie_replies_accepted,
                                                          &DeviceCounters::rate_limited,
                                                          &DeviceCounters::handshake_failed,
                                                          &DeviceCounters::initiations_sent,
                                                          &DeviceCounters::responses_sent,
                                                          &DeviceCounters::handshakes_completed,
                                                          &DeviceCounters::keepalives_sent,
                                                          &DeviceCounters::no_endpoint};
  static_assert(sizeof(kFields) / sizeof(kFields[0]) * sizeof(uint64_t) == sizeof(DeviceCounters),
                "every counter is listed");
  DeviceCounters out;
  for (auto f : kFields)
    out.*f = std::atomic_ref<uint64_t>(counters_.*f).load(std::memory_order_relaxed);
  return out;
}

// ---- lifecycle ----

void Device::up() {
  std::vector<PeerPtr> keepalive;
  {
    std::lock_guard ops(config_ops_mu_);
    std::unique_lock cfg(config_mu_);
    if (up_) return;
    open_bind();
    up_ = true;
    for (auto& p : peers_) {
      p->timers.start();
      {
        std::lock_guard hs(p->handshake_mu);
        p->last_sent_initiation.reset();  // a started peer may handshake at once
      }
      if (p->persistent_keepalive.load()) keepalive.push_back(p);
    }
  }
  if (events_) events_->bind_changed(*this);
  for (auto& p : keepalive) send_keepalive(p);
}

void Device::down() {
  {
    std::lock_guard ops(config_ops_mu_);
    std::unique_lock cfg(config_mu_);
    if (!up_) return;
    up_ = false;
    {
      std::lock_guard lock(bind_mu_);
      bind_.reset();
    }
    for (auto& p : peers_) {
      p->timers.stop();
      zero_and_flush(*p);
    }
  }
  if (events_) events_->bind_changed(*this);
}

bool Device::is_up() const {
  std::shared_lock cfg(config_mu_);
  return up_;
}

std::shared_ptr<Bind> Device::bind() const {
  std::lock_guard lock(bind_mu_);
  return bind_;
}

void Device::open_bind() {
  // wireguard-go closes the old socket before binding the new one, so a port can be re-bound.
  {
    std::lock_guard lock(bind_mu_);
    bind_.reset();
  }
  std::shared_ptr<Bind> b = binds_.open(listen_port_);
  if (fwmark_) b->set_mark(fwmark_);
  listen_port_ = b->port();  // port 0 picked one: keep it across down/up, as wireguard-go does
  std::lock_guard lock(bind_mu_);
  bind_ = std::move(b);
}

// ---- configuration ----

Device::PeerPtr Device::find_peer(const crypto::Key& public_key) const {
  auto it = by_key_.find(key_bytes(public_key));
  return it == by_key_.end() ? nullptr : it->second;
}

Device::PeerPtr Device::create_peer(const crypto::Key& public_key) {
  if (peers_.size() >= kMaxPeers) return nullptr;
  auto p = std::make_shared<Peer>(public_key, options_.timings, options_.max_staged_packets,
                                  staged_budget_);
  if (identity_.has_key &&
      !crypto::x25519(p->handshake.precomputed_ss, identity_.private_key, public_key))
    p->handshake.precomputed_ss = crypto::Key();  // a low-order key: no handshake possible
  if (up_) p->timers.start();
  peers_.push_back(p);
  by_key_.emplace(key_bytes(public_key), p);
  return p;
}

void Device::remove_peer(PeerPtr peer) {
  allowed_ips_.remove_all(peer.get());
  by_key_.erase(key_bytes(peer->public_key()));
  std::erase(peers_, peer);
  peer->removed = true;
  peer->timers.stop();
  zero_and_flush(*peer);
}

void Device::set_private_key(const crypto::Key& key) {
  if (identity_.has_key ? identity_.private_key == key : key.is_zero()) return;
  const crypto::Key pub = key.is_zero() ? crypto::Key() : crypto::public_key(key);
  if (!key.is_zero())
    if (auto self = find_peer(pub)) remove_peer(self);  // a peer with our own key: gone
  identity_.private_key = key;
  identity_.public_key = pub;
  identity_.has_key = !key.is_zero();
  if (identity_.has_key)
    cookie_checker_.init(pub);
  else
    cookie_checker_.clear();
  for (auto& p : peers_) {
    {
      std::lock_guard hs(p->handshake_mu);
      auto& ss = p->handshake.precomputed_ss;
      if (!identity_.has_key || !crypto::x25519(ss, key, p->public_key())) ss = crypto::Key();
    }
    expire_current_keypairs(*p);
  }
}

int Device::set_listen_port(uint16_t port) {
  if (up_ && bind() && bind()->port() == port) return 0;
  listen_port_ = port;
  if (!up_) return 0;
  try {
    open_bind();
  } catch (const std::exception& e) {
    log::warn(std::string("engine: cannot bind the listen port: ") + e.what());
    listen_port_ = 0;  // as wireguard-go: no socket, and `wg show` says port 0
    return -EADDRINUSE;
  }
  return 0;
}

noise::StaticIdentity Device::identity() const {
  std::shared_lock cfg(config_mu_);
  return identity_;
}

void Device::apply(const wg::DeviceConfig& config) {
  // Not replace_peers' remove-all-then-add: the driver's every reconfiguration would then lose
  // the sessions and forget the newest TAI64N seen from each peer, so that an initiation captured
  // earlier could be replayed. A peer's lines are its whole state, so no preshared key means none.
  wg::DeviceConfig sync = config;
  sync.replace_peers = false;
  for (auto& p : sync.peers)
    if (!p.preshared_key) p.preshared_key = crypto::Key();
  const int err = apply_ops(wg::uapi::ops_of(sync), config.replace_peers);
  if (err) throw SystemError("engine: configuration refused (errno " + std::to_string(-err) + ")");
}

int Device::uapi_set(std::string_view body) {
  auto request = wg::uapi::parse_set(body);
  const int err = apply_ops(request.ops, false);
  return err ? err : request.error;
}

int Device::apply_ops(const std::vector<wg::uapi::SetOp>& ops, bool remove_unnamed) {
  using K = wg::uapi::SetOp::Kind;
  struct Started {
    PeerPtr peer;
    bool keepalive;
  };
  std::vector<Started> started;  // configured peers of an up device: keepalive, staged packets
  bool bind_changed = false;
  int err = 0;
  {
    std::lock_guard ops_lock(config_ops_mu_);
    std::unique_lock cfg(config_mu_);
    const auto bind_before = bind();
    if (remove_unnamed) {
      std::unordered_set<std::string> named;
      for (const auto& op : ops)
        if (op.kind == K::kPublicKey) named.insert(key_bytes(op.key));
      for (const auto& p : std::vector(peers_))
        if (!named.contains(key_bytes(p->public_key()))) remove_peer(p);
    }
    // The peer the peer lines apply to; "dummy" when there is none (removed, update_only on a new
    // key, our own key): its lines are accepted and ignored, as wireguard-go does.
    PeerPtr peer;
    bool dummy = false, created = false, keepalive_on = false;
    auto finish_peer = [&] {
      if (peer && !dummy && up_) started.push_back({peer, keepalive_on});
      peer.reset();
      dummy = created = keepalive_on = false;
    };
    for (const auto& op : ops) {
      if (op.kind == K::kPublicKey) {
        finish_peer();
        dummy = identity_.has_key && op.key == identity_.public_key;
        if (!dummy) {
          peer = find_peer(op.key);
          created = !peer;
          if (created) peer = create_peer(op.key);
          if (!peer) {
            err = -EINVAL;  // too many peers
            break;
          }
        }
        continue;
      }
      const bool on_peer = peer && !dummy;
      switch (op.kind) {
        case K::kPrivateKey:
          set_private_key(op.key);
          break;
        case K::kListenPort:
          err = set_listen_port(static_cast<uint16_t>(op.number));
          break;
        case K::kFwmark:
          fwmark_ = op.number;
          if (auto b = bind()) try {
              b->set_mark(fwmark_);
            } catch (const std::exception&) {
              err = -EADDRINUSE;
            }
          break;
        case K::kReplacePeers:
          while (!peers_.empty()) remove_peer(peers_.back());
          break;
        case K::kRemove:
          if (on_peer) remove_peer(peer);
          peer.reset();
          dummy = true;
          break;
        case K::kUpdateOnly:
          if (created && on_peer) {
            remove_peer(peer);
            peer.reset();
            dummy = true;
          }
          break;
        case K::kPresharedKey:
          if (on_peer) {
            std::lock_guard hs(peer->handshake_mu);
            peer->handshake.preshared_key = op.key;
          }
          break;
        case K::kEndpoint:
          if (on_peer) peer->set_endpoint(NetEndpoint{op.endpoint, std::nullopt, 0});
          break;
        case K::kPersistentKeepalive:
          if (on_peer) {
            const auto old = peer->persistent_keepalive.exchange(static_cast<uint16_t>(op.number));
            keepalive_on = old == 0 && op.number != 0;
          }
          break;
        case K::kReplaceAllowedIps:
          if (on_peer) allowed_ips_.remove_all(peer.get());
          break;
        case K::kAllowedIp:
          if (on_peer) allowed_ips_.insert(op.prefix, peer.get());
          break;
        case K::kRemoveAllowedIp:
          if (on_peer) allowed_ips_.remove(op.prefix, peer.get());
          break;
        case K::kPublicKey:
        case K::kProtocolVersion:
          break;
      }
      if (err) break;
    }
    // wireguard-go stops at an error without finishing the peer it was configuring.
    if (!err) finish_peer();
    bind_changed = bind() != bind_before;
  }
  if (bind_changed && events_) events_->bind_changed(*this);
  for (auto& s : started) {
    if (s.keepalive) send_keepalive(s.peer);
    send_staged(s.peer);
  }
  return err;
}

wg::DeviceStatus Device::collect_status(bool secrets) const {
  std::shared_lock cfg(config_mu_);
  wg::DeviceStatus st;
  if (identity_.has_key) {
    st.public_key = identity_.public_key;
    if (secrets) st.private_key = identity_.private_key;
  }
  const auto b = bind();
  st.listen_port = b ? b->port() : listen_port_;
  st.fwmark = fwmark_;
  std::unordered_map<const Peer*, std::vector<Cidr>> prefixes;
  allowed_ips_.for_each([&](const Cidr& c, Peer* p) { prefixes[p].push_back(c); });
  for (const auto& p : peers_) {
    wg::PeerStatus ps;
    ps.public_key = p->public_key();
    if (auto e = p->endpoint()) ps.endpoint = e->remote;
    const int64_t ns = p->last_handshake_ns.load();
    ps.last_handshake_sec = ns / 1'000'000'000;
    ps.last_handshake_nsec = ns % 1'000'000'000;
    ps.rx_bytes = p->rx_bytes.load();
    ps.tx_bytes = p->tx_bytes.load();
    ps.persistent_keepalive = p->persistent_keepalive.load();
    if (auto it = prefixes.find(p.get()); it != prefixes.end()) ps.allowed_ips = it->second;
    {
      std::lock_guard hs(p->handshake_mu);
      ps.has_preshared_key = !p->handshake.preshared_key.is_zero();
      if (secrets && ps.has_preshared_key) ps.preshared_key = p->handshake.preshared_key;
    }
    st.peers.push_back(std::move(ps));
  }
  return st;
}

wg::DeviceStatus Device::status() const { return collect_status(false); }
wg::DeviceStatus Device::status_with_secrets() const { return collect_status(true); }
std::string Device::uapi_get() const { return wg::uapi::encode_get(collect_status(true)); }

// ---- sessions ----

KeypairPtr Device::make_keypair(const noise::SessionKeys& keys) {
  auto kp = std::make_shared<Keypair>();
  kp->send_key = keys.send;
  kp->receive_key = keys.receive;
  kp->initiator = keys.initiator;
  kp->local_index = keys.local_index;
  kp->remote_index = keys.remote_index;
  kp->created = clock_.now();
  return kp;
}

bool Device::install_session(Peer& peer, const KeypairPtr& kp) {
  retire(peer.keypairs.install(kp));
  index_table_.set_keypair(kp->local_index, kp);
  // Removed meanwhile (its keys may have been cleared before this install): clear them now.
  if (!peer.removed) return true;
  retire(peer.keypairs.clear());
  return false;
}

void Device::retire(const std::vector<KeypairPtr>& keypairs) {
  for (const auto& kp : keypairs) index_table_.remove(kp->local_index);
}

bool Device::usable_for_sending(const KeypairPtr& kp, Clock::Time now) const {
  return kp &&
         kp->send_counter.load(std::memory_order_relaxed) <
             options_.timings.reject_after_messages &&
         now - kp->created < options_.timings.reject_after_time;
}

void Device::zero_and_flush(Peer& peer) {
  retire(peer.keypairs.clear());
  {
    std::lock_guard hs(peer.handshake_mu);
    if (peer.handshake.local_index) index_table_.remove(peer.handshake.local_index);
    peer.handshake.clear();
  }
  count(&DeviceCounters::staged_dropped, peer.take_staged().size());
}

void Device::expire_current_keypairs(Peer& peer) {
  {
    std::lock_guard hs(peer.handshake_mu);
    if (peer.handshake.local_index) index_table_.remove(peer.handshake.local_index);
    peer.handshake.clear();
    peer.last_sent_initiation.reset();  // a new handshake may start at once
  }
  peer.keypairs.expire_sending(options_.timings.reject_after_messages);
}

// ---- timers ----

void Device::schedule(const PeerPtr& peer, Visit visit) {
  if (!visit) return;
  if (timer_queue_.add(*visit, peer) && events_) events_->timer_deadline_changed(*this, *visit);
}

std::optional<Clock::Time> Device::next_timer_deadline() const { return timer_queue_.earliest(); }

void Device::run_timers() {
  const auto now = clock_.now();
  for (auto& [visit, peer] : timer_queue_.take_due(now)) {
    Visit next;
    const unsigned due = peer->timers.expire(visit, now, next);
    schedule(peer, next);
    if (due && !peer->removed) on_timers(peer, due);
  }
}

void Device::on_timers(const PeerPtr& peer, unsigned due) {
  const auto now = clock_.now();
  if (due & kRetransmitHandshake) {
    if (peer->timers.count_handshake_attempt()) {
      peer->clear_endpoint_source();
      send_initiation(peer, true);
    } else {
      log::debug("engine: " + peer->name() + ": handshake did not complete, giving up");
      schedule(peer, peer->timers.handshake_given_up(now));
      count(&DeviceCounters::staged_dropped, peer->take_staged().size());
    }
  }
  if (due & kSendKeepalive) {
    send_keepalive(peer);
    schedule(peer, peer->timers.keepalive_sent_on_timer(now));
  }
  if (due & kNewHandshake) {
    log::debug("engine: " + peer->name() + ": no reply to data, new handshake");
    peer->clear_endpoint_source();
    send_initiation(peer, false);
  }
  if (due & kZeroKeyMaterial) zero_and_flush(*peer);
  if ((due & kPersistentKeepalive) && peer->persistent_keepalive.load()) send_keepalive(peer);
}

}  // namespace wgnet::engine
