// Cookie mechanics as wireguard.md states them. MACs are compared in constant time; the cookie
// secret and received cookies are wiped when replaced.
#include "engine/cookie.h"

#include <algorithm>
#include <array>

#include "crypto/aead.h"
#include "crypto/random.h"

namespace wgnet::engine {

namespace {

std::span<const uint8_t> text(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

crypto::Mac16 mac1_of(const crypto::Key& key, std::span<const uint8_t> msg) {
  return crypto::blake2s_mac(key.span(), {msg.first(mac1_offset(msg.size()))});
}

crypto::Mac16 mac2_of(const crypto::Mac16& cookie, std::span<const uint8_t> msg) {
  return crypto::blake2s_mac(cookie, {msg.first(mac2_offset(msg.size()))});
}

bool handshake_sized(std::span<const uint8_t> msg) {
  return msg.size() == kInitiationSize || msg.size() == kResponseSize;
}

}  // namespace

void CookieChecker::init(const crypto::Key& our_public_key) {
  mac1_key_ = crypto::blake2s({text(kLabelMac1), our_public_key.span()});
  cookie_key_ = crypto::blake2s({text(kLabelCookie), our_public_key.span()});
  ready_ = true;
}

void CookieChecker::clear() {
  ready_ = false;
  mac1_key_ = crypto::Key();
  cookie_key_ = crypto::Key();
}

bool CookieChecker::mac1_valid(std::span<const uint8_t> msg) const {
  if (!ready_ || !handshake_sized(msg)) return false;
  const auto mac = mac1_of(mac1_key_, msg);
  return crypto::equal_ct(mac, msg.subspan(mac1_offset(msg.size()), kMacSize));
}

crypto::Mac16 CookieChecker::cookie_for(const wg::Endpoint& source) const {
  const std::array<uint8_t, 2> port = {static_cast<uint8_t>(source.port >> 8),
                                       static_cast<uint8_t>(source.port)};
  return crypto::blake2s_mac(secret_.span(), {source.address.bytes(), port});
}

bool CookieChecker::mac2_valid(std::span<const uint8_t> msg, const wg::Endpoint& source,
                               Clock::Time now) {
  if (!ready_ || !handshake_sized(msg)) return false;
  crypto::Mac16 cookie;
  {
    std::lock_guard lock(mu_);
    // A secret older than the refresh interval makes every cookie stale: the sender must ask again.
    if (!secret_set_ || now - *secret_set_ > refresh_) return false;
    cookie = cookie_for(source);
  }
  const auto mac = mac2_of(cookie, msg);
  crypto::wipe(cookie.data(), cookie.size());
  return crypto::equal_ct(mac, msg.subspan(mac2_offset(msg.size()), kMacSize));
}

MessageCookieReply CookieChecker::make_reply(std::span<const uint8_t> msg, uint32_t receiver,
                                             const wg::Endpoint& source, Clock::Time now) {
  crypto::Mac16 cookie;
  {
    std::lock_guard lock(mu_);
    if (!secret_set_ || now - *secret_set_ > refresh_) {
      crypto::random_bytes({secret_.data(), crypto::Key::kSize});
      secret_set_ = now;
    }
    cookie = cookie_for(source);
  }
  MessageCookieReply reply{};
  set_type(reply.type, MessageType::kCookieReply);
  store_le32(reply.receiver, receiver);
  crypto::random_bytes(reply.nonce);
  crypto::xaead_seal(cookie_key_, reply.nonce, msg.subspan(mac1_offset(msg.size()), kMacSize),
                     cookie, reply.encrypted_cookie);
  crypto::wipe(cookie.data(), cookie.size());
  return reply;
}

void CookieGenerator::init(const crypto::Key& their_public_key) {
  std::lock_guard lock(mu_);
  mac1_key_ = crypto::blake2s({text(kLabelMac1), their_public_key.span()});
  cookie_key_ = crypto::blake2s({text(kLabelCookie), their_public_key.span()});
  cookie_set_.reset();
  last_mac1_.reset();
}

void CookieGenerator::add_macs(std::span<uint8_t> msg, Clock::Time now) {
  std::lock_guard lock(mu_);
  const auto mac1 = mac1_of(mac1_key_, msg);
  std::copy(mac1.begin(), mac1.end(), msg.begin() + mac1_offset(msg.size()));
  last_mac1_ = mac1;
  auto mac2_field = msg.subspan(mac2_offset(msg.size()), kMacSize);
  if (cookie_set_ && now - *cookie_set_ <= refresh_) {
    const auto mac2 = mac2_of(cookie_, msg);
    std::copy(mac2.begin(), mac2.end(), mac2_field.begin());
  } else {
    std::fill(mac2_field.begin(), mac2_field.end(), 0);
  }
}

bool CookieGenerator::consume_reply(const MessageCookieReply& reply, Clock::Time now) {
  std::lock_guard lock(mu_);
  if (!last_mac1_) return false;
  crypto::Mac16 cookie;
  if (!crypto::xaead_open(cookie_key_, reply.nonce, *last_mac1_, reply.encrypted_cookie,
                          cookie.data()))
    return false;
  cookie_ = cookie;
  crypto::wipe(cookie.data(), cookie.size());
  cookie_set_ = now;
  last_mac1_.reset();
  return true;
}

bool CookieGenerator::has_fresh_cookie(Clock::Time now) const {
  std::lock_guard lock(mu_);
  return cookie_set_ && now - *cookie_set_ <= refresh_;
}

}  // namespace wgnet::engine
