// Noise IKpsk2 as WireGuard's whitepaper and wireguard.md write it, step by step. Every key,
// chaining key and ephemeral lives in a crypto::Key, wiped when it goes.
#include "engine/noise.h"

#include <algorithm>
#include <cstring>

#include "crypto/aead.h"
#include "crypto/blake2s.h"
#include "crypto/dh.h"
#include "crypto/x25519.h"

namespace wgnet::engine::noise {

namespace {

Bytes text(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

Key key_of(Bytes b) {
  Key k;
  std::copy_n(b.begin(), std::min(b.size(), Key::kSize), k.data());
  return k;
}

// Noise "e" with a PSK pattern: the ephemeral public key is both hashed and mixed into the key.
Key mix_ephemeral(SymmetricState& s, const Key& e_priv, uint8_t* out) {
  Key e_pub = crypto::public_key(e_priv);
  std::copy_n(e_pub.data(), Key::kSize, out);
  s.mix_hash(e_pub.span());
  s.mix_key(e_pub.span());
  return e_pub;
}

bool mix_dh(SymmetricState& s, const Key& priv, const Key& pub) {
  Key shared;
  if (!crypto::x25519(shared, priv, pub)) return false;
  s.mix_key(shared.span());
  return true;
}

// The state every WireGuard handshake starts from: HASH(CONSTRUCTION), then IDENTIFIER as prologue.
const SymmetricState& wireguard_initial() {
  static const SymmetricState s = [] {
    SymmetricState st;
    st.initialize(kConstruction, text(kIdentifier));
    return st;
  }();
  return s;
}

}  // namespace

void SymmetricState::initialize(std::string_view protocol_name, Bytes prologue) {
  if (protocol_name.size() <= Key::kSize)
    h = key_of(text(protocol_name));
  else
    h = crypto::blake2s({text(protocol_name)});
  ck = h;
  k = Key();
  n = 0;
  has_key = false;
  mix_hash(prologue);
}

void SymmetricState::mix_hash(Bytes data) { h = crypto::blake2s({h.span(), data}); }

void SymmetricState::mix_key(Bytes input_key_material) {
  auto out = crypto::kdf<2>(ck.span(), input_key_material);
  ck = out[0];
  k = out[1];
  n = 0;
  has_key = true;
}

void SymmetricState::mix_key_and_hash(Bytes input_key_material) {
  auto out = crypto::kdf<3>(ck.span(), input_key_material);
  ck = out[0];
  mix_hash(out[1].span());
  k = out[2];
  n = 0;
  has_key = true;
}

void SymmetricState::encrypt_and_hash(Bytes plain, uint8_t* out) {
  crypto::aead_seal(k, n++, h.span(), plain, out);
  mix_hash({out, plain.size() + crypto::kAeadTagSize});
}

bool SymmetricState::decrypt_and_hash(Bytes cipher, uint8_t* out) {
  if (!crypto::aead_open(k, n, h.span(), cipher, out)) return false;
  n++;
  mix_hash(cipher);
  return true;
}

std::pair<Key, Key> SymmetricState::split() const {
  auto out = crypto::kdf<2>(ck.span(), {});
  return {out[0], out[1]};
}

bool write_message1(SymmetricState& s, const Key& e_priv, const Key& s_pub, const Key& rs,
                    const Key& ss, Bytes payload, uint8_t* out) {
  mix_ephemeral(s, e_priv, out);
  if (!mix_dh(s, e_priv, rs)) return false;
  s.encrypt_and_hash(s_pub.span(), out + kKeySize);
  if (ss.is_zero()) return false;
  s.mix_key(ss.span());
  s.encrypt_and_hash(payload, out + kKeySize + kKeySize + kTagSize);
  return true;
}

bool read_message1_static(SymmetricState& s, const Key& s_priv, Bytes e_pub, Bytes encrypted_static,
                          Key& rs) {
  const Key re = key_of(e_pub);
  s.mix_hash(re.span());
  s.mix_key(re.span());
  if (!mix_dh(s, s_priv, re)) return false;
  return encrypted_static.size() == kKeySize + kTagSize &&
         s.decrypt_and_hash(encrypted_static, rs.data());
}

bool read_message1_payload(SymmetricState& s, const Key& ss, Bytes encrypted_payload,
                           uint8_t* payload) {
  if (ss.is_zero()) return false;
  s.mix_key(ss.span());
  return s.decrypt_and_hash(encrypted_payload, payload);
}

bool write_message2(SymmetricState& s, const Key& e_priv, const Key& re, const Key& rs,
                    const Key& psk, Bytes payload, uint8_t* out) {
  mix_ephemeral(s, e_priv, out);
  if (!mix_dh(s, e_priv, re) || !mix_dh(s, e_priv, rs)) return false;
  s.mix_key_and_hash(psk.span());
  s.encrypt_and_hash(payload, out + kKeySize);
  return true;
}

bool read_message2(SymmetricState& s, const Key& e_priv, const Key& s_priv, const Key& psk,
                   Bytes e_pub, Bytes encrypted_payload, uint8_t* payload) {
  const Key re = key_of(e_pub);
  s.mix_hash(re.span());
  s.mix_key(re.span());
  if (!mix_dh(s, e_priv, re) || !mix_dh(s, s_priv, re)) return false;
  s.mix_key_and_hash(psk.span());
  return s.decrypt_and_hash(encrypted_payload, payload);
}

// ---- WireGuard ----

void Handshake::clear() {
  state = State::kZeroed;
  noise = SymmetricState();
  ephemeral_private = Key();
  remote_ephemeral = Key();
  local_index = 0;
  remote_index = 0;
}

bool create_initiation(Handshake& hs, const StaticIdentity& id, const Tai64n& timestamp,
                       uint32_t local_index, MessageInitiation& out) {
  if (!id.has_key || hs.precomputed_ss.is_zero()) return false;
  SymmetricState s = wireguard_initial();
  s.mix_hash(hs.remote_static.span());
  Key e_priv = crypto::generate_private_key();
  uint8_t body[kKeySize + kKeySize + kTagSize + kTimestampSize + kTagSize];
  if (!write_message1(s, e_priv, id.public_key, hs.remote_static, hs.precomputed_ss, timestamp,
                      body)) {
    crypto::wipe(body, sizeof body);
    return false;
  }
  std::memset(&out, 0, sizeof out);
  set_type(out.type, MessageType::kInitiation);
  store_le32(out.sender, local_index);
  std::memcpy(out.ephemeral, body, sizeof out.ephemeral);
  std::memcpy(out.encrypted_static, body + kKeySize, sizeof out.encrypted_static);
  std::memcpy(out.encrypted_timestamp, body + 2 * kKeySize + kTagSize,
              sizeof out.encrypted_timestamp);
  hs.noise = s;
  hs.ephemeral_private = e_priv;
  hs.local_index = local_index;
  hs.state = Handshake::State::kCreatedInitiation;
  return true;
}

bool open_initiation(const MessageInitiation& msg, const StaticIdentity& id, SymmetricState& state,
                     Key& initiator_static) {
  if (!id.has_key) return false;
  state = wireguard_initial();
  state.mix_hash(id.public_key.span());
  return read_message1_static(state, id.private_key, msg.ephemeral, msg.encrypted_static,
                              initiator_static);
}

bool consume_initiation(const MessageInitiation& msg, SymmetricState state, Handshake& hs,
                        Clock::Time now, Clock::Time::duration min_interval) {
  Tai64n timestamp;
  if (!read_message1_payload(state, hs.precomputed_ss, msg.encrypted_timestamp, timestamp.data()))
    return false;
  if (!after(timestamp, hs.latest_timestamp)) return false;  // replayed initiation
  if (hs.last_initiation_consumed && now - *hs.last_initiation_consumed < min_interval)
    return false;  // flood
  hs.noise = state;
  hs.remote_ephemeral = key_of(msg.ephemeral);
  hs.latest_timestamp = timestamp;
  hs.last_initiation_consumed = now;
  hs.remote_index = load_le32(msg.sender);
  hs.state = Handshake::State::kConsumedInitiation;
  return true;
}

bool create_response(Handshake& hs, uint32_t local_index, MessageResponse& out) {
  if (hs.state != Handshake::State::kConsumedInitiation) return false;
  SymmetricState s = hs.noise;
  Key e_priv = crypto::generate_private_key();
  uint8_t body[kKeySize + kTagSize];
  if (!write_message2(s, e_priv, hs.remote_ephemeral, hs.remote_static, hs.preshared_key, {}, body))
    return false;
  std::memset(&out, 0, sizeof out);
  set_type(out.type, MessageType::kResponse);
  store_le32(out.sender, local_index);
  store_le32(out.receiver, hs.remote_index);
  std::memcpy(out.ephemeral, body, sizeof out.ephemeral);
  std::memcpy(out.encrypted_nothing, body + kKeySize, sizeof out.encrypted_nothing);
  hs.noise = s;
  hs.ephemeral_private = e_priv;
  hs.local_index = local_index;
  hs.state = Handshake::State::kCreatedResponse;
  return true;
}

bool consume_response(const MessageResponse& msg, Handshake& hs, const StaticIdentity& id) {
  if (hs.state != Handshake::State::kCreatedInitiation || !id.has_key ||
      load_le32(msg.receiver) != hs.local_index)
    return false;
  SymmetricState s = hs.noise;
  uint8_t nothing[1];  // the payload is empty; OpenSSL still wants somewhere to write
  if (!read_message2(s, hs.ephemeral_private, id.private_key, hs.preshared_key, msg.ephemeral,
                     msg.encrypted_nothing, nothing))
    return false;
  hs.noise = s;
  hs.remote_index = load_le32(msg.sender);
  hs.state = Handshake::State::kConsumedResponse;
  return true;
}

std::optional<SessionKeys> derive_session(Handshake& hs) {
  const bool initiator = hs.state == Handshake::State::kConsumedResponse;
  if (!initiator && hs.state != Handshake::State::kCreatedResponse) return std::nullopt;
  auto [first, second] = hs.noise.split();
  SessionKeys keys;
  keys.initiator = initiator;
  keys.send = initiator ? first : second;
  keys.receive = initiator ? second : first;
  keys.local_index = hs.local_index;
  keys.remote_index = hs.remote_index;
  hs.clear();
  return keys;
}

}  // namespace wgnet::engine::noise
