// WireGuard's wire formats and protocol constants (wireguard.md), in one place as in the Linux
// driver's messages.h. Messages are byte arrays with explicit little-endian fields, so a datagram
// is copied into or out of them without alignment or aliasing concerns.
#pragma once
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace wgnet::engine {

using namespace std::chrono_literals;

// Noise and WireGuard labels (no terminator).
inline constexpr std::string_view kConstruction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
inline constexpr std::string_view kIdentifier = "WireGuard v1 zx2c4 Jason@zx2c4.com";
inline constexpr std::string_view kLabelMac1 = "mac1----";
inline constexpr std::string_view kLabelCookie = "cookie--";

// Limits and timers; Timings (timers.h) starts from these and lets tests shorten them.
inline constexpr uint64_t kRekeyAfterMessages = uint64_t{1} << 60;
inline constexpr uint64_t kRejectAfterMessages = ~uint64_t{0} - (uint64_t{1} << 13);  // 2^64-2^13-1
inline constexpr auto kRekeyAfterTime = 120s;
inline constexpr auto kRejectAfterTime = 180s;
inline constexpr auto kRekeyAttemptTime = 90s;
inline constexpr auto kRekeyTimeout = 5s;
inline constexpr auto kRekeyTimeoutJitterMax = 333ms;
inline constexpr auto kKeepaliveTimeout = 10s;
inline constexpr auto kCookieRefreshTime = 120s;
inline constexpr auto kHandshakeInitiationRate = 20ms;  // at most one initiation per peer per 20 ms
inline constexpr size_t kMaxStagedPackets = 128;        // per peer, awaiting a handshake
inline constexpr size_t kMaxPeers = size_t{1} << 16;    // per device, as wireguard-go
inline constexpr uint32_t kDefaultMtu = 1420;

enum class MessageType : uint8_t {
  kInitiation = 1,
  kResponse = 2,
  kCookieReply = 3,
  kTransport = 4,
};

inline constexpr size_t kKeySize = 32;
inline constexpr size_t kTagSize = 16;
inline constexpr size_t kMacSize = 16;
inline constexpr size_t kTimestampSize = 12;
inline constexpr size_t kCookieNonceSize = 24;

// 1: handshake initiation (148 bytes).
struct MessageInitiation {
  uint8_t type[4];  // 1, 0, 0, 0
  uint8_t sender[4];
  uint8_t ephemeral[kKeySize];
  uint8_t encrypted_static[kKeySize + kTagSize];
  uint8_t encrypted_timestamp[kTimestampSize + kTagSize];
  uint8_t mac1[kMacSize];
  uint8_t mac2[kMacSize];
};
// 2: handshake response (92 bytes).
struct MessageResponse {
  uint8_t type[4];
  uint8_t sender[4];
  uint8_t receiver[4];
  uint8_t ephemeral[kKeySize];
  uint8_t encrypted_nothing[kTagSize];
  uint8_t mac1[kMacSize];
  uint8_t mac2[kMacSize];
};
// 3: cookie reply (64 bytes).
struct MessageCookieReply {
  uint8_t type[4];
  uint8_t receiver[4];
  uint8_t nonce[kCookieNonceSize];
  uint8_t encrypted_cookie[kMacSize + kTagSize];
};
// 4: transport data: this header, then the AEAD of the padded packet (≥ 16 bytes with the tag).
struct MessageTransportHeader {
  uint8_t type[4];
  uint8_t receiver[4];
  uint8_t counter[8];
};

inline constexpr size_t kInitiationSize = 148;
inline constexpr size_t kResponseSize = 92;
inline constexpr size_t kCookieReplySize = 64;
inline constexpr size_t kTransportHeaderSize = 16;
inline constexpr size_t kKeepaliveSize = kTransportHeaderSize + kTagSize;  // 32: the smallest
inline constexpr size_t kPaddingMultiple = 16;
static_assert(sizeof(MessageInitiation) == kInitiationSize);
static_assert(sizeof(MessageResponse) == kResponseSize);
static_assert(sizeof(MessageCookieReply) == kCookieReplySize);
static_assert(sizeof(MessageTransportHeader) == kTransportHeaderSize);

// Where mac1 and mac2 sit in a handshake message of `size` bytes (initiation or response).
inline constexpr size_t mac1_offset(size_t size) { return size - 2 * kMacSize; }
inline constexpr size_t mac2_offset(size_t size) { return size - kMacSize; }

inline void store_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint32_t load_le32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
  return v;
}
inline void store_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

// The message type of a datagram: its first byte, provided the next three are zero.
inline uint8_t message_type(std::span<const uint8_t> d) {
  if (d.size() < 4 || d[1] != 0 || d[2] != 0 || d[3] != 0) return 0;
  return d[0];
}
inline void set_type(uint8_t* type, MessageType t) {
  type[0] = static_cast<uint8_t>(t);
  type[1] = type[2] = type[3] = 0;
}

// Copies between a datagram and a message struct (sizes checked by the caller).
template <typename M>
M message_from(std::span<const uint8_t> d) {
  M m;
  std::memcpy(&m, d.data(), sizeof(M));
  return m;
}
template <typename M>
std::span<const uint8_t> bytes_of(const M& m) {
  return {reinterpret_cast<const uint8_t*>(&m), sizeof(M)};
}
template <typename M>
std::span<uint8_t> bytes_of(M& m) {
  return {reinterpret_cast<uint8_t*>(&m), sizeof(M)};
}

}  // namespace wgnet::engine
