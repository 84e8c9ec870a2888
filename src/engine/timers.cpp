// The timer state machine of one peer (wireguard-go's timers.go, in deadline form). A deadline
// moved later needs no new visit: the visit already scheduled finds nothing due and schedules
// the next one, so the per-packet events cost a lock and a store.
#include "engine/timers.h"

#include <charconv>
#include <string>

#include "crypto/random.h"
#include "util/error.h"

namespace wgnet::engine {

Clock::Time::duration Timings::jitter() const {
  const auto max_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(rekey_timeout_jitter_max);
  if (max_ms.count() <= 0) return Clock::Time::duration::zero();
  return std::chrono::milliseconds(crypto::random_below(static_cast<uint32_t>(max_ms.count()) + 1));
}

Timings parse_timings(std::string_view spec, Timings t) {
  using namespace std::chrono;
  struct Field {
    std::string_view name;
    Clock::Time::duration Timings::*duration;
    uint64_t Timings::*count;
  };
  static constexpr Field kFields[] = {
      {"rekey_after_time", &Timings::rekey_after_time, nullptr},
      {"reject_after_time", &Timings::reject_after_time, nullptr},
      {"rekey_attempt_time", &Timings::rekey_attempt_time, nullptr},
      {"rekey_timeout", &Timings::rekey_timeout, nullptr},
      {"rekey_timeout_jitter_max", &Timings::rekey_timeout_jitter_max, nullptr},
      {"keepalive_timeout", &Timings::keepalive_timeout, nullptr},
      {"cookie_refresh_time", &Timings::cookie_refresh_time, nullptr},
      {"handshake_initiation_rate", &Timings::handshake_initiation_rate, nullptr},
      {"rekey_after_messages", nullptr, &Timings::rekey_after_messages},
      {"reject_after_messages", nullptr, &Timings::reject_after_messages},
  };
  while (!spec.empty()) {
    const auto comma = spec.find(',');
    const std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    const auto eq = item.find('=');
    const auto name = item.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
    const Field* f = nullptr;
    for (const auto& k : kFields)
      if (k.name == name) f = &k;
    auto bad = [&] { return InputError("engine timings: bad item '" + std::string(item) + "'"); };
    if (!f || value.empty()) throw bad();
    uint64_t scale_ms = 1;  // durations: "ms" or "s"
    if (f->duration) {
      if (value.ends_with("ms"))
        value.remove_suffix(2);
      else if (value.ends_with("s"))
        value.remove_suffix(1), scale_ms = 1000;
      else
        throw bad();
    }
    uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || ptr != value.data() + value.size()) throw bad();
    if (f->duration)
      t.*(f->duration) = milliseconds(n * scale_ms);
    else
      t.*(f->count) = n;
  }
  if (t.rekey_timeout <= Clock::Time::duration::zero())
    throw InputError("engine timings: rekey_timeout must be positive");
  return t;
}

Visit PeerTimers::needs_visit() {
  std::optional<Clock::Time> first;
  for (const auto& d : deadlines_)
    if (d && (!first || *d < *first)) first = d;
  if (!first || (visit_ && *visit_ <= *first)) return std::nullopt;
  visit_ = first;
  return visit_;
}

Visit PeerTimers::set(TimerBits which, Clock::Time when) {
  if (!running_) return std::nullopt;
  deadlines_[index(which)] = when;
  return needs_visit();
}

void PeerTimers::start() {
  std::lock_guard lock(mu_);
  running_ = true;
  handshake_attempts_ = 0;
  sent_last_minute_handshake_ = false;
  need_another_keepalive_ = false;
}

void PeerTimers::stop() {
  std::lock_guard lock(mu_);
  running_ = false;
  for (auto& d : deadlines_) d.reset();
}

bool PeerTimers::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

Visit PeerTimers::data_sent(Clock::Time now) {
  std::lock_guard lock(mu_);
  if (deadlines_[index(kNewHandshake)]) return std::nullopt;
  return set(kNewHandshake, now + t_.keepalive_timeout + t_.rekey_timeout + t_.jitter());
}

Visit PeerTimers::data_received(Clock::Time now) {
  std::lock_guard lock(mu_);
  if (!running_) return std::nullopt;
  if (deadlines_[index(kSendKeepalive)]) {
    need_another_keepalive_ = true;
    return std::nullopt;
  }
  return set(kSendKeepalive, now + t_.keepalive_timeout);
}

void PeerTimers::any_authenticated_packet_sent() {
  std::lock_guard lock(mu_);
  deadlines_[index(kSendKeepalive)].reset();
}

void PeerTimers::any_authenticated_packet_received() {
  std::lock_guard lock(mu_);
  deadlines_[index(kNewHandshake)].reset();
}

Visit PeerTimers::handshake_initiated(Clock::Time now) {
  std::lock_guard lock(mu_);
  return set(kRetransmitHandshake, now + t_.rekey_timeout + t_.jitter());
}

void PeerTimers::handshake_complete() {
  std::lock_guard lock(mu_);
  deadlines_[index(kRetransmitHandshake)].reset();
  handshake_attempts_ = 0;
  sent_last_minute_handshake_ = false;
}

Visit PeerTimers::session_derived(Clock::Time now) {
  std::lock_guard lock(mu_);
  return set(kZeroKeyMaterial, now + 3 * t_.reject_after_time);
}

Visit PeerTimers::any_authenticated_packet_traversal(Clock::Time now,
                                                     uint16_t persistent_keepalive) {
  if (persistent_keepalive == 0) return std::nullopt;
  std::lock_guard lock(mu_);
  return set(kPersistentKeepalive, now + std::chrono::seconds(persistent_keepalive));
}

Visit PeerTimers::handshake_given_up(Clock::Time now) {
  std::lock_guard lock(mu_);
  deadlines_[index(kSendKeepalive)].reset();
  if (deadlines_[index(kZeroKeyMaterial)]) return std::nullopt;
  return set(kZeroKeyMaterial, now + 3 * t_.reject_after_time);
}

Visit PeerTimers::keepalive_sent_on_timer(Clock::Time now) {
  std::lock_guard lock(mu_);
  if (!need_another_keepalive_) return std::nullopt;
  need_another_keepalive_ = false;
  return set(kSendKeepalive, now + t_.keepalive_timeout);
}

void PeerTimers::reset_handshake_attempts() {
  std::lock_guard lock(mu_);
  handshake_attempts_ = 0;
}

bool PeerTimers::count_handshake_attempt() {
  std::lock_guard lock(mu_);
  if (handshake_attempts_ >= t_.max_handshake_attempts()) return false;
  handshake_attempts_++;
  return true;
}

bool PeerTimers::take_last_minute_handshake() {
  std::lock_guard lock(mu_);
  if (sent_last_minute_handshake_) return false;
  sent_last_minute_handshake_ = true;
  return true;
}

unsigned PeerTimers::expire(Clock::Time visit, Clock::Time now,
                            std::optional<Clock::Time>& reschedule) {
  std::lock_guard lock(mu_);
  reschedule.reset();
  if (!visit_ || *visit_ != visit) return 0;  // superseded by an earlier visit
  visit_.reset();
  unsigned due = 0;
  for (size_t i = 0; i < kTimers; i++) {
    auto& d = deadlines_[i];
    if (d && *d <= now) {
      due |= 1u << i;
      d.reset();
    }
  }
  if (running_) reschedule = needs_visit();
  return due;
}

std::optional<Clock::Time> PeerTimers::deadline(TimerBits which) const {
  std::lock_guard lock(mu_);
  return deadlines_[index(which)];
}

}  // namespace wgnet::engine
