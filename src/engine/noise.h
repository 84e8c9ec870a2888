// The Noise IKpsk2 handshake (Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s) in two layers: the generic
// pattern with prologue and payloads as parameters (so the cacophony test vector reproduces
// exactly), and WireGuard's use of it — prologue = IDENTIFIER, payload of message 1 = TAI64N, the
// message layouts of messages.h and the per-peer handshake state machine.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "crypto/secure.h"
#include "engine/clock.h"
#include "engine/messages.h"
#include "engine/tai64n.h"

namespace wgnet::engine::noise {

using crypto::Key;
using Bytes = std::span<const uint8_t>;

// Noise's symmetric state: chaining key, transcript hash, and the cipher key with its nonce.
struct SymmetricState {
  Key ck, h, k;
  uint64_t n = 0;
  bool has_key = false;

  void initialize(std::string_view protocol_name, Bytes prologue);
  void mix_hash(Bytes data);
  void mix_key(Bytes input_key_material);
  void mix_key_and_hash(Bytes input_key_material);
  // Writes plain.size() + 16 bytes to out.
  void encrypt_and_hash(Bytes plain, uint8_t* out);
  // Writes cipher.size() - 16 bytes to out; false when the tag does not verify.
  [[nodiscard]] bool decrypt_and_hash(Bytes cipher, uint8_t* out);
  // The two transport keys: first for initiator → responder, second for the way back.
  std::pair<Key, Key> split() const;
};

// IKpsk2:   <- s   ...   -> e, es, s, ss   <- e, ee, se, psk
// Each step returns false when a DH result is zero or a tag does not verify. `state` must be
// initialised with the protocol name and prologue and have mixed the responder's static key.

// Initiator, message 1: e.pub (32) ‖ AEAD(s.pub) (48) ‖ AEAD(payload) (payload + 16) into out.
// `ss` is DH(s_i, rs): WireGuard computes it once per peer.
[[nodiscard]] bool write_message1(SymmetricState& state, const Key& e_priv, const Key& s_pub,
                                  const Key& rs, const Key& ss, Bytes payload, uint8_t* out);
// Responder, message 1 up to the initiator's static key, which it returns (the caller finds the
// peer, and so ss, from it).
[[nodiscard]] bool read_message1_static(SymmetricState& state, const Key& s_priv, Bytes e_pub,
                                        Bytes encrypted_static, Key& rs);
// Responder, the rest of message 1.
[[nodiscard]] bool read_message1_payload(SymmetricState& state, const Key& ss,
                                         Bytes encrypted_payload, uint8_t* payload);
// Responder, message 2: e.pub (32) ‖ AEAD(payload) (payload + 16) into out.
[[nodiscard]] bool write_message2(SymmetricState& state, const Key& e_priv, const Key& re,
                                  const Key& rs, const Key& psk, Bytes payload, uint8_t* out);
// Initiator, message 2.
[[nodiscard]] bool read_message2(SymmetricState& state, const Key& e_priv, const Key& s_priv,
                                 const Key& psk, Bytes e_pub, Bytes encrypted_payload,
                                 uint8_t* payload);

// ---- WireGuard ----

// The device's static key pair; has_key is false until a private key is configured.
struct StaticIdentity {
  Key private_key;
  Key public_key;
  bool has_key = false;
};

// One peer's handshake. Guarded by the peer's handshake lock.
struct Handshake {
  enum class State : uint8_t {
    kZeroed,
    kCreatedInitiation,
    kConsumedInitiation,
    kCreatedResponse,
    kConsumedResponse,
  };
  State state = State::kZeroed;
  SymmetricState noise;
  Key ephemeral_private;
  Key remote_ephemeral;
  Key remote_static;   // the peer's public key
  Key precomputed_ss;  // DH(our static, remote static); zero when there is none
  Key preshared_key;   // zero when none
  Tai64n latest_timestamp{};
  uint32_t local_index = 0;
  uint32_t remote_index = 0;
  std::optional<Clock::Time> last_initiation_consumed;

  // Forgets the exchange in progress (keys, ephemeral, state); keeps who the peer is, its
  // preshared key and the newest timestamp seen (replay protection outlives a session).
  void clear();
};

// Transport keys of a completed handshake.
struct SessionKeys {
  Key send, receive;
  bool initiator = false;
  uint32_t local_index = 0, remote_index = 0;
};

// Initiator: fills `out` except mac1/mac2 and moves to kCreatedInitiation.
[[nodiscard]] bool create_initiation(Handshake& hs, const StaticIdentity& id,
                                     const Tai64n& timestamp, uint32_t local_index,
                                     MessageInitiation& out);

// Responder, first half: decrypts the initiator's static key. `state` carries over to
// consume_initiation once the caller has found the peer with that key.
[[nodiscard]] bool open_initiation(const MessageInitiation& msg, const StaticIdentity& id,
                                   SymmetricState& state, Key& initiator_static);
// Responder, second half, on the peer's handshake: checks the timestamp grows (replay) and that
// the previous initiation was at least `min_interval` ago (flood), then moves to
// kConsumedInitiation.
[[nodiscard]] bool consume_initiation(const MessageInitiation& msg, SymmetricState state,
                                      Handshake& hs, Clock::Time now,
                                      Clock::Time::duration min_interval);
// Responder: fills `out` except mac1/mac2 and moves to kCreatedResponse.
[[nodiscard]] bool create_response(Handshake& hs, uint32_t local_index, MessageResponse& out);
// Initiator: the response must answer our kCreatedInitiation; moves to kConsumedResponse.
[[nodiscard]] bool consume_response(const MessageResponse& msg, Handshake& hs,
                                    const StaticIdentity& id);
// Either side, after create_response / consume_response: the transport keys; the handshake is
// then cleared. nullopt in any other state.
std::optional<SessionKeys> derive_session(Handshake& hs);

}  // namespace wgnet::engine::noise
