// UAPI encoding follows wireguard.md; the client is blocking with a short timeout because
// userspace implementations answer at once.
#include "wg/uapi.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "util/error.h"
#include "util/fd.h"

namespace wgnet::wg::uapi {

std::string socket_dir() { return "/var/run/wireguard"; }
std::string socket_path(const std::string& ifname) { return socket_dir() + "/" + ifname + ".sock"; }

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

namespace {

Fd connect_uapi(const std::string& ifname) {
  std::string path = socket_path(ifname);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw SystemError(std::string("uapi: socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) throw SystemError("uapi: socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw SystemError("uapi: cannot connect to " + path + ": " + std::strerror(errno));
  return fd;
}

// Sends `request`, reads until the blank line that ends a reply.
std::string round_trip(const std::string& ifname, std::string request) {
  crypto::WipeOnExit wipe_request(request);
  Fd fd = connect_uapi(ifname);
  size_t off = 0;
  while (off < request.size()) {
    ssize_t n = ::send(fd.get(), request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw SystemError("uapi: write to " + socket_path(ifname) + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  // The reply to get=1 carries the private key: read straight into a buffer that is grown by
  // hand, wiping the old one, so no unwiped copy is left behind.
  std::string reply;
  reply.reserve(16384);
  try {
    while (reply.size() < 2 || reply.compare(reply.size() - 2, 2, "\n\n") != 0) {
      if (reply.capacity() - reply.size() < 4096) {
        std::string bigger;
        bigger.reserve(reply.capacity() * 2);
        bigger = reply;
        crypto::wipe(reply.data(), reply.size());
        reply.swap(bigger);
      }
      size_t old = reply.size();
      reply.resize(reply.capacity());
      ssize_t n = ::recv(fd.get(), reply.data() + old, reply.size() - old, 0);
      int err = errno;
      reply.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
      if (n < 0 && err == EINTR) continue;
      if (n < 0)
        throw SystemError("uapi: read from " + socket_path(ifname) + ": " + std::strerror(err));
      if (n == 0) break;
    }
  } catch (...) {
    crypto::wipe(reply.data(), reply.size());
    throw;
  }
  return reply;
}

}  // namespace

void set(const std::string& ifname, const DeviceConfig& config) {
  std::string reply = round_trip(ifname, encode_set(config));
  if (reply != "errno=0\n\n")
    throw SystemError("uapi: configuring " + ifname +
                      " failed: " + reply.substr(0, reply.find('\n')));
}

DeviceStatus get(const std::string& ifname) {
  std::string reply = round_trip(ifname, "get=1\n\n");
  crypto::WipeOnExit wipe_reply(reply);
  return decode_get(reply);
}

bool reachable(const std::string& ifname) {
  try {
    connect_uapi(ifname);
    return true;
  } catch (const SystemError&) {
    return false;
  }
}

}  // namespace wgnet::wg::uapi
