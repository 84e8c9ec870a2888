// mac1, mac2 and cookie replies, WireGuard's defence against handshake floods. A responder under
// load answers a handshake message without a valid mac2 with a cookie reply: an encrypted MAC of
// the sender's address under a secret that changes every 120 s. The initiator then proves, with
// mac2, that it receives at that address.
#pragma once
#include <mutex>
#include <optional>
#include <span>

#include "crypto/blake2s.h"
#include "crypto/secure.h"
#include "engine/clock.h"
#include "engine/messages.h"
#include "wgconf/config.h"

namespace wgnet::engine {

// The responder's side, one per device: checks mac1 and mac2 of received handshake messages and
// makes cookie replies. init() under the device's configuration lock; the rest is thread-safe.
class CookieChecker {
 public:
  explicit CookieChecker(Clock::Time::duration refresh = kCookieRefreshTime) : refresh_(refresh) {}
  // Keys derived from the device's public key; a device without one checks nothing valid.
  void init(const crypto::Key& our_public_key);
  void clear();
  // `msg` is a whole initiation or response.
  bool mac1_valid(std::span<const uint8_t> msg) const;
  bool mac2_valid(std::span<const uint8_t> msg, const wg::Endpoint& source, Clock::Time now);
  // The cookie reply to `msg` (whose sender index is `receiver`) from `source`.
  MessageCookieReply make_reply(std::span<const uint8_t> msg, uint32_t receiver,
                                const wg::Endpoint& source, Clock::Time now);

 private:
  crypto::Mac16 cookie_for(const wg::Endpoint& source) const;  // caller holds mu_

  const Clock::Time::duration refresh_;
  bool ready_ = false;
  crypto::Key mac1_key_, cookie_key_;
  std::mutex mu_;
  crypto::Key secret_;
  std::optional<Clock::Time> secret_set_;
};

// The sender's side, one per peer: writes mac1 (and mac2 while a cookie is fresh) into the
// handshake messages we send, and takes in the cookie replies the peer sends us. Thread-safe.
class CookieGenerator {
 public:
  explicit CookieGenerator(Clock::Time::duration refresh = kCookieRefreshTime)
      : refresh_(refresh) {}
  void init(const crypto::Key& their_public_key);
  // Fills the mac1 and mac2 fields at the end of `msg` (an initiation or response).
  void add_macs(std::span<uint8_t> msg, Clock::Time now);
  // True when the reply decrypts against the mac1 of the last message we sent; the cookie is then
  // used for mac2 for the next refresh interval.
  bool consume_reply(const MessageCookieReply& reply, Clock::Time now);
  bool has_fresh_cookie(Clock::Time now) const;

 private:
  const Clock::Time::duration refresh_;
  mutable std::mutex mu_;
  crypto::Key mac1_key_, cookie_key_;
  crypto::Mac16 cookie_{};
  std::optional<Clock::Time> cookie_set_;
  std::optional<crypto::Mac16> last_mac1_;
};

}  // namespace wgnet::engine
