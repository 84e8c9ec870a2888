// UAPI encoding and decoding as wireguard.md describes it (wireguard-go's ipc/uapi.go is the
// reference implementation of the other side).
#include "wgconf/uapi_codec.h"

#include <charconv>

#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "util/error.h"

namespace wgnet::wg::uapi {

std::string encode_set(const DeviceConfig& c) {
  // Reserved up front so the buffer holding keys is never reallocated (a reallocation would
  // leave a copy of the private key in freed memory).
  size_t size = 160;
  for (const auto& p : c.peers) size += 400 + 56 * p.allowed_ips.size();
  std::string s;
  s.reserve(size);
  s += "set=1\n";
  if (c.private_key) {
    s += "private_key=";
    crypto::hex_append(s, c.private_key->span());
    s += "\n";
  }
  if (c.listen_port) s.append("listen_port=").append(std::to_string(*c.listen_port)).append("\n");
  s.append("fwmark=").append(std::to_string(c.fwmark)).append("\n");
  if (c.replace_peers) s += "replace_peers=true\n";
  for (const auto& p : c.peers) {
    s += "public_key=";
    crypto::hex_append(s, p.public_key.span());
    s += "\n";
    if (p.preshared_key) {
      s += "preshared_key=";
      crypto::hex_append(s, p.preshared_key->span());
      s += "\n";
    }
    if (p.endpoint) s.append("endpoint=").append(p.endpoint->str()).append("\n");
    s.append("persistent_keepalive_interval=")
        .append(std::to_string(p.persistent_keepalive))
        .append("\n");
    s += "replace_allowed_ips=true\n";
    for (const auto& a : p.allowed_ips) s.append("allowed_ip=").append(a.str()).append("\n");
  }
  s += "\n";
  return s;
}

namespace {

template <typename T>
T number(std::string_view key, std::string_view v) {
  T n{};
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || ptr != v.data() + v.size())
    throw SystemError("uapi: bad number for " + std::string(key) + ": '" + std::string(v) + "'");
  return n;
}

}  // namespace

DeviceStatus decode_get(std::string_view reply) {
  DeviceStatus st;
  PeerStatus* peer = nullptr;
  bool saw_errno = false;
  while (!reply.empty()) {
    auto nl = reply.find('\n');
    std::string_view line = reply.substr(0, nl);
    reply = nl == std::string_view::npos ? std::string_view() : reply.substr(nl + 1);
    if (line.empty()) continue;
    auto eq = line.find('=');
    if (eq == std::string_view::npos) throw SystemError("uapi: malformed line in reply");
    auto key = line.substr(0, eq), v = line.substr(eq + 1);
    if (key == "errno") {
      int e = number<int>(key, v);
      if (e != 0) throw SystemError("uapi: get failed with errno " + std::to_string(e));
      saw_errno = true;
    } else if (key == "private_key") {
      auto k = crypto::key_from_hex(v, "uapi private_key");
      if (!k.is_zero()) st.public_key = crypto::public_key(k);
    } else if (key == "listen_port") {
      st.listen_port = number<uint16_t>(key, v);
    } else if (key == "public_key") {
      st.peers.emplace_back();
      peer = &st.peers.back();
      peer->public_key = crypto::key_from_hex(v, "uapi public_key");
    } else if (peer && key == "endpoint") {
      peer->endpoint = Endpoint::parse(v);
    } else if (peer && key == "last_handshake_time_sec") {
      peer->last_handshake_sec = number<int64_t>(key, v);
    } else if (peer && key == "last_handshake_time_nsec") {
      peer->last_handshake_nsec = number<int64_t>(key, v);
    } else if (peer && key == "rx_bytes") {
      peer->rx_bytes = number<uint64_t>(key, v);
    } else if (peer && key == "tx_bytes") {
      peer->tx_bytes = number<uint64_t>(key, v);
    } else if (peer && key == "persistent_keepalive_interval") {
      peer->persistent_keepalive = number<uint16_t>(key, v);
    } else if (peer && key == "allowed_ip") {
      auto c = Cidr::parse(v);
      if (!c) throw SystemError("uapi: bad allowed_ip '" + std::string(v) + "'");
      peer->allowed_ips.push_back(*c);
    }
    // Other keys (fwmark, preshared_key, protocol_version) are not reported.
  }
  if (!saw_errno) throw SystemError("uapi: reply ended without errno");
  return st;
}

}  // namespace wgnet::wg::uapi
