// What a WireGuard device is configured with, and what it reports: the one vocabulary every
// backend (kernel, engine, external) and the UAPI text protocol share.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/secure.h"
#include "util/ip.h"

namespace wgnet::wg {

struct Endpoint {
  IpAddress address;
  uint16_t port = 0;
  // "1.2.3.4:51820" or "[fd00::1]:51820".
  std::string str() const;
  // Parses a numeric endpoint (no DNS); nullopt when malformed.
  static std::optional<Endpoint> parse(std::string_view text);
  bool operator==(const Endpoint&) const = default;
};

struct PeerConfig {
  crypto::Key public_key;
  std::optional<crypto::Key> preshared_key;
  std::optional<Endpoint> endpoint;
  uint16_t persistent_keepalive = 0;  // seconds, 0 = off
  std::vector<Cidr> allowed_ips;
};

struct DeviceConfig {
  std::optional<crypto::Key> private_key;
  std::optional<uint16_t> listen_port;  // unset = random
  uint32_t fwmark = 0;
  bool replace_peers = true;
  std::vector<PeerConfig> peers;
};

struct PeerStatus {
  crypto::Key public_key;
  std::optional<Endpoint> endpoint;
  int64_t last_handshake_sec = 0;
  int64_t last_handshake_nsec = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  uint16_t persistent_keepalive = 0;
  std::vector<Cidr> allowed_ips;
  bool has_preshared_key = false;
  // Only in a status that carries secrets (what the engine answers a UAPI get with); else unset.
  std::optional<crypto::Key> preshared_key;
};

struct DeviceStatus {
  std::optional<crypto::Key> public_key;
  uint16_t listen_port = 0;
  uint32_t fwmark = 0;
  std::vector<PeerStatus> peers;
  // Only in a status that carries secrets (what the engine answers a UAPI get with); else unset.
  std::optional<crypto::Key> private_key;
};

}  // namespace wgnet::wg
