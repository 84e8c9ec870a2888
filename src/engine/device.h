// One WireGuard interface of the engine: its identity, listen port, fwmark and peers, the
// encrypt path (TUN → UDP), the decrypt path (UDP → TUN), handshakes, timers and configuration
// (a full wg::DeviceConfig, or UAPI "set"/"get" with wireguard-go's semantics and errnos). The
// protocol core: it never calls the OS except through Tun, Bind and Clock.
//
// Threading contract (docs/ENGINE.md "Threads and order"):
// - Data path, three stages per batch. A worker thread runs all three stages of one batch before
//   it starts anything else, and the event loop gives each fd to one reader at a time:
//     prepare_outbound / prepare_inbound   serial per source: call them for one TUN (resp. one
//                                          Bind) from one thread at a time, in read order;
//     encrypt / decrypt                    parallel: any thread, no locks;
//     complete                             any thread: hands the batch to its peers' ordered
//                                          queues; whoever completes the oldest run sends (UDP)
//                                          or writes (TUN) every completed run in ticket order.
//   After complete() the batch's packet buffers may still be queued behind another worker's
//   batch: reuse them only once batch.in_flight() is false (prepare_* waits for that itself).
//   send() and receive() run the three stages in one call.
//   Buffers: packets are encrypted and decrypted in place. A TUN packet needs kHeadroom bytes in
//   front (the transport header goes there) and kTailroom behind (padding and tag); a received
//   datagram's plaintext is written to the TUN from 16 bytes past its offset.
// - process_handshakes, run_timers, configuration and status: any thread, any time, also while
//   the data path runs. They may send (Bind::send) and write (Tun::write) themselves, so Bind::send
//   and Tun::write must accept calls from several threads at once (per-peer order is kept here).
// - DeviceEvents callbacks run on the thread that caused them, with no device lock held.
// - Destroy the device only when no call into it is running and no batch of it is in flight.
//
// Memory: an idle device holds no buffers and no threads; queues allocate on first use and are
// bounded (handshake queue, staged packets per peer and per device, rate-limiter table).
#pragma once
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/allowedips.h"
#include "engine/bind.h"
#include "engine/clock.h"
#include "engine/cookie.h"
#include "engine/index_table.h"
#include "engine/noise.h"
#include "engine/packet.h"
#include "engine/peer.h"
#include "engine/queue.h"
#include "engine/ratelimiter.h"
#include "engine/timers.h"
#include "engine/tun.h"
#include "wgconf/config.h"
#include "wgconf/uapi_codec.h"

namespace wgnet::engine {

struct DeviceOptions {
  Timings timings;
  // Handshake messages waiting for process_handshakes(); at 1/8 full the device is under load.
  size_t handshake_queue_size = 1024;
  size_t max_staged_packets = kMaxStagedPackets;  // per peer
  // Bytes of staged packets all peers together may hold; beyond, new ones are dropped. The Linux
  // driver and wireguard-go bound staging per peer only (128 packets each), which a hub with
  // thousands of peers turns into gigabytes (packets up to 64 KiB). 4 MiB still holds a full
  // 128-packet queue of MTU-sized packets for about 20 peers handshaking at once, and a single
  // peer's 128 packets unless they are super-sized.
  size_t max_staged_bytes = size_t{4} << 20;
  RateLimiter::Limits rate_limits;
};

class Device;

// What the event loop hears from a device. Default: nothing.
class DeviceEvents {
 public:
  virtual ~DeviceEvents() = default;
  // The device opened a new Bind (listen port changed, or up()) or closed it (down()): poll the
  // one device.bind() returns now.
  virtual void bind_changed(Device&) {}
  // Handshake messages are waiting: call process_handshakes() (on a worker, not the reader).
  virtual void handshakes_pending(Device&) {}
  // next_timer_deadline() moved earlier, to `when`.
  virtual void timer_deadline_changed(Device&, Clock::Time /*when*/) {}
};

// Why packets were dropped, and what the device did; for tests, logs and `wgnet` diagnostics.
struct DeviceCounters {
  uint64_t no_route = 0;            // TUN packet for an address no peer owns
  uint64_t invalid_packet = 0;      // not IPv4/IPv6, bad length, no room to encrypt
  uint64_t staged = 0;              // TUN packets kept for a handshake
  uint64_t staged_dropped = 0;      // staged packets dropped (queue or budget full, given up)
  uint64_t unknown_index = 0;       // transport or response to no session of ours
  uint64_t expired_keypair = 0;     // transport under a keypair past REJECT_AFTER_TIME
  uint64_t decrypt_failed = 0;      // authentication failed
  uint64_t replayed = 0;            // counter seen before or too old
  uint64_t source_not_allowed = 0;  // inner source outside the peer's allowed IPs
  uint64_t malformed = 0;           // datagram of no valid type or size
  uint64_t handshake_queue_full = 0;
  uint64_t bad_mac1 = 0;
  uint64_t cookie_replies_sent = 0;
  uint64_t cookie_replies_accepted = 0;
  uint64_t rate_limited = 0;
  uint64_t handshake_failed = 0;  // initiation/response that did not verify or was refused
  uint64_t initiations_sent = 0;
  uint64_t responses_sent = 0;
  uint64_t handshakes_completed = 0;
  uint64_t keepalives_sent = 0;
  uint64_t no_endpoint = 0;  // something to send to a peer whose endpoint is unknown
};

class Device {
 public:
  Device(Tun& tun, BindFactory& binds, const Clock& clock, DeviceOptions options = {},
         DeviceEvents* events = nullptr);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // ---- lifecycle ----
  // Opens the Bind (configured port, or any free one) and starts the peers' timers; peers with a
  // persistent keepalive send one. Throws SystemError when the port cannot be bound.
  void up();
  // Closes the Bind, stops timers, forgets every session and staged packet.
  void down();
  bool is_up() const;
  // The Bind to poll (null while down).
  std::shared_ptr<Bind> bind() const;

  // ---- configuration ----
  // A whole configuration, as `wg syncconf` would set it: peers whose public key stays are
  // updated in place (sessions and replay protection kept; no preshared key in the config means
  // none, no endpoint keeps the one learned), and with config.replace_peers the peers it does not
  // name are removed. Setting the same private key again changes nothing. Throws SystemError
  // naming the errno wireguard-go would have answered; operations before the failing one stay
  // applied.
  void apply(const wg::DeviceConfig& config);
  // The body of a UAPI "set=1" request: 0, or the negative errno wireguard-go answers
  // (replace_peers=true removes every peer, as wireguard-go does).
  int uapi_set(std::string_view body);
  // The whole UAPI "get=1" reply, errno line included. It holds the private and preshared keys:
  // wipe it after sending.
  std::string uapi_get() const;
  // Status for the backends: no secrets (has_preshared_key tells about preshared keys).
  wg::DeviceStatus status() const;
  // With private and preshared keys (what uapi_get encodes).
  wg::DeviceStatus status_with_secrets() const;
  DeviceCounters counters() const;

  // ---- data path: TUN → UDP ----
  void prepare_outbound(std::span<Packet> packets, OutboundBatch& batch);
  void encrypt(OutboundBatch& batch);
  void complete(OutboundBatch& batch);
  void send(std::span<Packet> packets, OutboundBatch& batch);

  // ---- data path: UDP → TUN ----
  // from[i] is where datagrams[i] came from (Bind::receive fills both).
  void prepare_inbound(std::span<Packet> datagrams, std::span<const NetEndpoint> from,
                       InboundBatch& batch);
  void decrypt(InboundBatch& batch);
  void complete(InboundBatch& batch);
  void receive(std::span<Packet> datagrams, std::span<const NetEndpoint> from, InboundBatch& batch);

  // ---- handshakes and timers ----
  // Processes up to `max` queued handshake messages; returns how many it took.
  size_t process_handshakes(size_t max = SIZE_MAX);
  size_t pending_handshakes() const;
  // When run_timers() next has work (nullopt: none scheduled). May be early, never late.
  std::optional<Clock::Time> next_timer_deadline() const;
  // Runs every timer due by clock.now().
  void run_timers();

  const DeviceOptions& options() const { return options_; }

 private:
  // A handshake message waiting in the queue, copied out of the worker's buffer.
  struct HandshakeJob {
    std::array<uint8_t, kInitiationSize> bytes;
    size_t size = 0;
    NetEndpoint from;
    std::span<const uint8_t> message() const { return {bytes.data(), size}; }
  };
  // Packets the device sends by itself (keepalives, staged packets): it owns their buffers
  // until the last one has been sent in its peer's order.
  struct OwnedBatch {
    OutboundBatch batch;
    std::vector<StagedPacket> packets;
    std::list<std::unique_ptr<OwnedBatch>>::iterator self;
  };
  using PeerPtr = std::shared_ptr<Peer>;

  // configuration (device.cpp)
  // Applies `ops` in order; first, with `remove_unnamed`, removes every peer no kPublicKey op of
  // them names (under the same lock, so no peer configured meanwhile escapes the sync).
  int apply_ops(const std::vector<wg::uapi::SetOp>& ops, bool remove_unnamed);
  PeerPtr find_peer(const crypto::Key& public_key) const;  // caller holds config_mu_
  PeerPtr create_peer(const crypto::Key& public_key);      // caller holds config_mu_ exclusive
  void remove_peer(PeerPtr peer);  // by value: callers pass elements of peers_; holds config_mu_
  void set_private_key(const crypto::Key& key);  // caller holds config_mu_ exclusive
  int set_listen_port(uint16_t port);            // caller holds config_mu_ exclusive
  void open_bind();                              // caller holds config_mu_ exclusive
  noise::StaticIdentity identity() const;
  wg::DeviceStatus collect_status(bool secrets) const;

  // sessions (device.cpp)
  void zero_and_flush(Peer& peer);
  void expire_current_keypairs(Peer& peer);
  void retire(const std::vector<KeypairPtr>& keypairs);
  // A new session's keypair into the peer and the index table; false when the peer is gone.
  bool install_session(Peer& peer, const KeypairPtr& kp);
  KeypairPtr make_keypair(const noise::SessionKeys& keys);
  bool usable_for_sending(const KeypairPtr& kp, Clock::Time now) const;

  // sending (send.cpp)
  void send_initiation(const PeerPtr& peer, bool retry);
  void send_keepalive(const PeerPtr& peer);
  void send_staged(const PeerPtr& peer);
  void send_datagram(Peer& peer, std::span<uint8_t> datagram);
  void send_to(const NetEndpoint& to, std::span<uint8_t> datagram);
  // Numbers the run's packets (nonces) and queues it in its peer's order, atomically. Returns
  // the index of the first packet the keypair had no nonce left for (run.size() when none).
  size_t take_ticket(Run& run);
  // Keeps the run's packets from `first` on for the next session; true when there were any.
  bool stage_from(Run& run, size_t first);
  void deliver_outbound(Run* run);
  void seal_run(Run& run);
  void after_send_checks(const PeerPtr& peer, const KeypairPtr& kp);

  // receiving (receive.cpp)
  void handle_cookie_reply(std::span<const uint8_t> datagram);
  void handle_handshake(const HandshakeJob& job, bool under_load);
  void handle_initiation(const HandshakeJob& job);
  void handle_response(const HandshakeJob& job);
  void deliver_inbound(Run* run);
  void open_run(Run& run);
  void handshake_completed(Peer& peer);

  // timers (device.cpp)
  void schedule(const PeerPtr& peer, Visit visit);
  void on_timers(const PeerPtr& peer, unsigned due);

  void release(Run* run);

  Tun& tun_;
  BindFactory& binds_;
  const Clock& clock_;
  const DeviceOptions options_;
  DeviceEvents* const events_;
  const std::shared_ptr<StagedBudget> staged_budget_;  // held by every peer and staged packet

  std::mutex config_ops_mu_;             // one configuration change at a time
  mutable std::shared_mutex config_mu_;  // everything below until the next comment
  noise::StaticIdentity identity_;
  CookieChecker cookie_checker_;
  std::vector<PeerPtr> peers_;                       // in creation order (UAPI get lists them so)
  std::unordered_map<std::string, PeerPtr> by_key_;  // raw public key bytes → peer
  AllowedIps<Peer> allowed_ips_;
  uint16_t listen_port_ = 0;  // configured (0: any)
  uint32_t fwmark_ = 0;
  bool up_ = false;

  mutable std::mutex bind_mu_;
  std::shared_ptr<Bind> bind_;

  IndexTable index_table_;
  RateLimiter rate_limiter_;
  TimerQueue<Peer> timer_queue_;

  mutable std::mutex handshake_mu_;
  std::list<HandshakeJob> handshake_queue_;  // bounded by options_.handshake_queue_size
  size_t handshake_queue_len_ = 0;
  Clock::Time under_load_until_{};

  std::mutex owned_mu_;
  std::list<std::unique_ptr<OwnedBatch>> owned_;  // keepalives and staged packets in flight

  void count(uint64_t DeviceCounters::*field, uint64_t n = 1);
  mutable DeviceCounters counters_;  // updated and read through std::atomic_ref
};

}  // namespace wgnet::engine
