// Every timer of wireguard.md, as deadlines rather than OS timers: each peer keeps five
// deadlines and the events that move them (PeerTimers); the device keeps one queue of "visit
// this peer at time T" (TimerQueue) that the event loop drives with next_timer_deadline() and
// run_timers(). Timings holds every limit, defaulting to the constants, so tests and a test-only
// setting can shorten them without editing constants.
#pragma once
#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string_view>
#include <vector>

#include "engine/clock.h"
#include "engine/messages.h"

namespace wgnet::engine {

struct Timings {
  Clock::Time::duration rekey_after_time = kRekeyAfterTime;
  Clock::Time::duration reject_after_time = kRejectAfterTime;
  Clock::Time::duration rekey_attempt_time = kRekeyAttemptTime;
  Clock::Time::duration rekey_timeout = kRekeyTimeout;
  Clock::Time::duration rekey_timeout_jitter_max = kRekeyTimeoutJitterMax;
  Clock::Time::duration keepalive_timeout = kKeepaliveTimeout;
  Clock::Time::duration cookie_refresh_time = kCookieRefreshTime;
  Clock::Time::duration handshake_initiation_rate = kHandshakeInitiationRate;
  uint64_t rekey_after_messages = kRekeyAfterMessages;
  uint64_t reject_after_messages = kRejectAfterMessages;

  // Retransmissions before giving up: REKEY_ATTEMPT_TIME / REKEY_TIMEOUT (18).
  unsigned max_handshake_attempts() const {
    return static_cast<unsigned>(rekey_attempt_time / rekey_timeout);
  }
  // A random delay in [0, rekey_timeout_jitter_max], so peers do not retransmit in lockstep.
  Clock::Time::duration jitter() const;
};

// Shortened timings for tests, from a test-only setting such as
// "rekey_after_time=10s,reject_after_time=15s,rekey_timeout=500ms,rekey_after_messages=1000":
// comma-separated name=value, the names of Timings' fields, durations in s or ms. Fields not
// named keep `base`. Throws InputError naming the bad item (never a production path).
Timings parse_timings(std::string_view spec, Timings base = {});

enum TimerBits : unsigned {
  kRetransmitHandshake = 1,
  kSendKeepalive = 2,
  kNewHandshake = 4,
  kZeroKeyMaterial = 8,
  kPersistentKeepalive = 16,
};

// A visit of the device's TimerQueue to schedule (nullopt: none needed).
using Visit = std::optional<Clock::Time>;

// One peer's timers. Thread-safe. Events that set a deadline return the visit to schedule when
// the peer's earliest deadline moved earlier than the visit already scheduled.
class PeerTimers {
 public:
  explicit PeerTimers(const Timings& t) : t_(t) {}

  // Timers run only while the peer is running (device up, peer configured).
  void start();
  void stop();
  bool running() const;

  // wireguard-go's timer events, by the same names.
  Visit data_sent(Clock::Time now);
  Visit data_received(Clock::Time now);
  void any_authenticated_packet_sent();
  void any_authenticated_packet_received();
  Visit handshake_initiated(Clock::Time now);
  void handshake_complete();
  Visit session_derived(Clock::Time now);
  Visit any_authenticated_packet_traversal(Clock::Time now, uint16_t persistent_keepalive);
  // After giving up on a handshake: zero-keys unless already pending; send-keepalive cleared.
  Visit handshake_given_up(Clock::Time now);
  // Re-arms send-keepalive when another one was asked for while it was pending.
  Visit keepalive_sent_on_timer(Clock::Time now);

  void reset_handshake_attempts();
  // Counts a retransmission; false when the limit is reached (give up instead).
  bool count_handshake_attempt();
  // The receive-side "last minute" rekey happens once per session.
  bool take_last_minute_handshake();

  // Called for a scheduled visit at `visit`: returns the timers expired by `now` (clearing them),
  // and sets `reschedule` to the next visit to schedule, if any. A visit that is no longer the
  // scheduled one returns 0 and no reschedule.
  unsigned expire(Clock::Time visit, Clock::Time now, std::optional<Clock::Time>& reschedule);
  std::optional<Clock::Time> deadline(TimerBits which) const;

 private:
  static constexpr size_t kTimers = 5;
  static size_t index(TimerBits which) {
    return static_cast<size_t>(std::countr_zero(unsigned(which)));
  }
  Visit set(TimerBits which, Clock::Time when);  // caller holds mu_
  Visit needs_visit();                           // caller holds mu_

  const Timings& t_;
  mutable std::mutex mu_;
  bool running_ = false;
  std::array<std::optional<Clock::Time>, kTimers> deadlines_;  // indexed by TimerBits bit
  std::optional<Clock::Time> visit_;  // the visit scheduled in the device's TimerQueue
  unsigned handshake_attempts_ = 0;
  bool need_another_keepalive_ = false;
  bool sent_last_minute_handshake_ = false;
};

// The device's visits, earliest first. Entries for peers gone or visits superseded are skipped
// when they come up. Thread-safe.
template <typename PeerT>
class TimerQueue {
 public:
  // Returns true when this visit is now the earliest (the event loop should wake sooner).
  bool add(Clock::Time when, std::weak_ptr<PeerT> peer) {
    std::lock_guard lock(mu_);
    const bool earliest = heap_.empty() || when < heap_.top().when;
    heap_.push(Visit{when, std::move(peer)});
    return earliest;
  }
  std::optional<Clock::Time> earliest() const {
    std::lock_guard lock(mu_);
    if (heap_.empty()) return std::nullopt;
    return heap_.top().when;
  }
  // Removes and returns the visits due by `now`.
  std::vector<std::pair<Clock::Time, std::shared_ptr<PeerT>>> take_due(Clock::Time now) {
    std::vector<std::pair<Clock::Time, std::shared_ptr<PeerT>>> due;
    std::lock_guard lock(mu_);
    while (!heap_.empty() && heap_.top().when <= now) {
      if (auto p = heap_.top().peer.lock()) due.emplace_back(heap_.top().when, std::move(p));
      heap_.pop();
    }
    return due;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return heap_.size();
  }

 private:
  struct Visit {
    Clock::Time when;
    std::weak_ptr<PeerT> peer;
    bool operator<(const Visit& o) const { return when > o.when; }  // min-heap
  };
  mutable std::mutex mu_;
  std::priority_queue<Visit> heap_;
};

}  // namespace wgnet::engine
