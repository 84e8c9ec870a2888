// UAPI encoding and decoding as wireguard.md describes it (wireguard-go's ipc/uapi.go is the
// reference implementation of the other side).
#include "wgconf/uapi_codec.h"

#include <cerrno>
#include <charconv>

#include "crypto/encoding.h"
#include "crypto/secure.h"
#include "crypto/x25519.h"
#include "util/error.h"

namespace wgnet::wg::uapi {

std::vector<SetOp> ops_of(const DeviceConfig& c) {
  using K = SetOp::Kind;
  std::vector<SetOp> ops;
  auto add = [&](K kind) -> SetOp& { return ops.emplace_back(SetOp{kind, {}, 0, {}, {}}); };
  if (c.private_key) add(K::kPrivateKey).key = *c.private_key;
  if (c.listen_port) add(K::kListenPort).number = *c.listen_port;
  add(K::kFwmark).number = c.fwmark;
  if (c.replace_peers) add(K::kReplacePeers);
  for (const auto& p : c.peers) {
    add(K::kPublicKey).key = p.public_key;
    if (p.preshared_key) add(K::kPresharedKey).key = *p.preshared_key;
    if (p.endpoint) add(K::kEndpoint).endpoint = *p.endpoint;
    add(K::kPersistentKeepalive).number = p.persistent_keepalive;
    add(K::kReplaceAllowedIps);
    for (const auto& a : p.allowed_ips) add(K::kAllowedIp).prefix = a;
  }
  return ops;
}

std::string encode_ops(const std::vector<SetOp>& ops) {
  using K = SetOp::Kind;
  // Reserved up front so the buffer holding keys is never reallocated (a reallocation would
  // leave a copy of a key in freed memory). The longest line is a key: 14 + 64 + 1.
  std::string s;
  s.reserve(16 + 80 * ops.size());
  s += "set=1\n";
  auto key_line = [&](const char* name, const crypto::Key& k) {
    s += name;
    s += '=';
    crypto::hex_append(s, k.span());
    s += '\n';
  };
  auto line = [&](const char* name, std::string_view value) {
    s.append(name).append("=").append(value).append("\n");
  };
  for (const auto& op : ops) {
    switch (op.kind) {
      case K::kPrivateKey:
        key_line("private_key", op.key);
        break;
      case K::kListenPort:
        line("listen_port", std::to_string(op.number));
        break;
      case K::kFwmark:
        line("fwmark", std::to_string(op.number));
        break;
      case K::kReplacePeers:
        line("replace_peers", "true");
        break;
      case K::kPublicKey:
        key_line("public_key", op.key);
        break;
      case K::kRemove:
        line("remove", "true");
        break;
      case K::kUpdateOnly:
        line("update_only", "true");
        break;
      case K::kPresharedKey:
        key_line("preshared_key", op.key);
        break;
      case K::kEndpoint:
        line("endpoint", op.endpoint.str());
        break;
      case K::kPersistentKeepalive:
        line("persistent_keepalive_interval", std::to_string(op.number));
        break;
      case K::kReplaceAllowedIps:
        line("replace_allowed_ips", "true");
        break;
      case K::kAllowedIp:
        line("allowed_ip", op.prefix.str());
        break;
      case K::kRemoveAllowedIp:
        line("allowed_ip", "-" + op.prefix.str());
        break;
      case K::kProtocolVersion:
        line("protocol_version", "1");
        break;
    }
  }
  s += "\n";
  return s;
}

std::string encode_set(const DeviceConfig& c) { return encode_ops(ops_of(c)); }

std::optional<DeviceConfig> config_of(const std::vector<SetOp>& ops) {
  using K = SetOp::Kind;
  DeviceConfig c;
  c.replace_peers = false;
  PeerConfig* peer = nullptr;
  for (const auto& op : ops) {
    const bool peer_op = op.kind >= K::kPublicKey;
    if (peer_op != (peer != nullptr) && op.kind != K::kPublicKey) return std::nullopt;
    switch (op.kind) {
      case K::kPrivateKey:
        c.private_key = op.key;
        break;
      case K::kListenPort:
        c.listen_port = static_cast<uint16_t>(op.number);
        break;
      case K::kFwmark:
        c.fwmark = op.number;
        break;
      case K::kReplacePeers:
        c.replace_peers = true;
        break;
      case K::kPublicKey:
        peer = &c.peers.emplace_back();
        peer->public_key = op.key;
        break;
      case K::kPresharedKey:
        peer->preshared_key = op.key;
        break;
      case K::kEndpoint:
        peer->endpoint = op.endpoint;
        break;
      case K::kPersistentKeepalive:
        peer->persistent_keepalive = static_cast<uint16_t>(op.number);
        break;
      case K::kAllowedIp:
        peer->allowed_ips.push_back(op.prefix);
        break;
      case K::kReplaceAllowedIps:  // a whole configuration always replaces them
      case K::kProtocolVersion:
        break;
      case K::kRemove:
      case K::kUpdateOnly:
      case K::kRemoveAllowedIp:
        return std::nullopt;
    }
  }
  return c;
}

std::optional<std::string_view> LineReader::next() {
  if (rest_.empty()) return std::nullopt;
  const auto nl = rest_.find('\n');
  const std::string_view line = rest_.substr(0, nl);
  rest_ = nl == std::string_view::npos ? std::string_view() : rest_.substr(nl + 1);
  return line;
}

std::optional<KeyValue> split_key_value(std::string_view line) {
  const auto eq = line.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  return KeyValue{line.substr(0, eq), line.substr(eq + 1)};
}

std::optional<crypto::Key> parse_key(std::string_view v) {
  auto bytes = crypto::hex_decode(v);
  if (!bytes) return std::nullopt;
  crypto::ScopedWipe wipe_bytes(*bytes);
  if (bytes->size() != crypto::Key::kSize) return std::nullopt;
  return crypto::Key(
      std::span<const uint8_t, crypto::Key::kSize>(bytes->data(), crypto::Key::kSize));
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

// A key in a reply: a malformed one is the other side's fault (SystemError), as any bad line.
crypto::Key reply_key(std::string_view v, std::string_view what) {
  try {
    return crypto::key_from_hex(v, what);
  } catch (const InputError& e) {
    throw SystemError(e.what());
  }
}

}  // namespace

DeviceStatus decode_get(std::string_view reply) {
  DeviceStatus st;
  PeerStatus* peer = nullptr;
  bool saw_errno = false;
  LineReader lines(reply);
  while (const auto line = lines.next()) {
    if (line->empty()) continue;
    const auto kv = split_key_value(*line);
    if (!kv) throw SystemError("uapi: malformed line in reply");
    const auto key = kv->key, v = kv->value;
    if (key == "errno") {
      int e = number<int>(key, v);
      if (e != 0) throw SystemError("uapi: get failed with errno " + std::to_string(e));
      saw_errno = true;
    } else if (key == "private_key") {
      auto k = reply_key(v, "uapi private_key");
      if (!k.is_zero()) st.public_key = crypto::public_key(k);
    } else if (key == "listen_port") {
      st.listen_port = number<uint16_t>(key, v);
    } else if (key == "fwmark") {
      st.fwmark = number<uint32_t>(key, v);
    } else if (key == "public_key") {
      st.peers.emplace_back();
      peer = &st.peers.back();
      peer->public_key = reply_key(v, "uapi public_key");
    } else if (peer && key == "preshared_key") {
      peer->has_preshared_key = !reply_key(v, "uapi preshared_key").is_zero();
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
    // protocol_version is always 1.
  }
  if (!saw_errno) throw SystemError("uapi: reply ended without errno");
  return st;
}

// ---- server side ----

namespace {

// A parse failure: wireguard-go's answer for it, and nothing more (the text may hold a key).
struct Refused {
  int error;
};

// A number of at most 32 bits (port, fwmark, interval) or -EINVAL.
uint32_t set_number(std::string_view v, uint32_t max) {
  const auto n = parse_uint(v, max);
  if (!n) throw Refused{-EINVAL};
  return static_cast<uint32_t>(*n);
}

crypto::Key set_key(std::string_view v) {
  auto k = parse_key(v);
  if (!k) throw Refused{-EINVAL};
  return *k;
}

void expect_true(std::string_view v) {
  if (v != "true") throw Refused{-EINVAL};
}

SetOp device_op(std::string_view key, std::string_view v) {
  using K = SetOp::Kind;
  SetOp op{K::kReplacePeers, {}, 0, {}, {}};
  if (key == "private_key") {
    op.kind = K::kPrivateKey;
    op.key = set_key(v);
  } else if (key == "listen_port") {
    op.kind = K::kListenPort;
    op.number = set_number(v, 0xffff);
  } else if (key == "fwmark") {
    op.kind = K::kFwmark;
    op.number = set_number(v, 0xffffffff);
  } else if (key == "replace_peers") {
    expect_true(v);
  } else {
    throw Refused{-EINVAL};
  }
  return op;
}

SetOp peer_op(std::string_view key, std::string_view v) {
  using K = SetOp::Kind;
  SetOp op{K::kProtocolVersion, {}, 0, {}, {}};
  if (key == "public_key") {
    op.kind = K::kPublicKey;
    op.key = set_key(v);
  } else if (key == "update_only" || key == "remove" || key == "replace_allowed_ips") {
    expect_true(v);
    op.kind = key == "update_only" ? K::kUpdateOnly
              : key == "remove"    ? K::kRemove
                                   : K::kReplaceAllowedIps;
  } else if (key == "preshared_key") {
    op.kind = K::kPresharedKey;
    op.key = set_key(v);
  } else if (key == "endpoint") {
    auto e = Endpoint::parse(v);
    if (!e) throw Refused{-EINVAL};
    op.kind = K::kEndpoint;
    op.endpoint = *e;
  } else if (key == "persistent_keepalive_interval") {
    op.kind = K::kPersistentKeepalive;
    op.number = set_number(v, 0xffff);
  } else if (key == "allowed_ip") {
    op.kind = K::kAllowedIp;
    if (!v.empty() && v[0] == '-') {
      op.kind = K::kRemoveAllowedIp;
      v.remove_prefix(1);
    }
    // Like Go's netip.ParsePrefix, a bare address is not a prefix.
    auto c = v.find('/') == std::string_view::npos ? std::nullopt : Cidr::parse(v);
    if (!c) throw Refused{-EINVAL};
    op.prefix = *c;
  } else if (key == "protocol_version") {
    if (v != "1") throw Refused{-EINVAL};
  } else {
    throw Refused{-EINVAL};
  }
  return op;
}

}  // namespace

SetRequest parse_set(std::string_view body) {
  SetRequest req;
  bool device_section = true;
  LineReader lines(body);
  while (const auto line = lines.next()) {
    if (line->empty()) break;  // the blank line ends the request
    const auto kv = split_key_value(*line);
    if (!kv) {
      req.error = -EPROTO;
      break;
    }
    const auto key = kv->key, value = kv->value;
    try {
      if (key == "public_key") device_section = false;
      req.ops.push_back(device_section ? device_op(key, value) : peer_op(key, value));
    } catch (const Refused& r) {
      req.error = r.error;
      break;
    }
  }
  return req;
}

std::string encode_get(const DeviceStatus& st) {
  size_t size = 200;
  for (const auto& p : st.peers) size += 400 + 56 * p.allowed_ips.size();  // longest lines
  std::string s;
  s.reserve(size);  // holds keys: never reallocated (see encode_ops)
  auto key_line = [&](const char* name, const crypto::Key& k) {
    s.append(name).append("=");
    crypto::hex_append(s, k.span());
    s += '\n';
  };
  auto line = [&](const char* name, const std::string& value) {
    s.append(name).append("=").append(value).append("\n");
  };
  if (st.private_key && !st.private_key->is_zero()) key_line("private_key", *st.private_key);
  if (st.listen_port) line("listen_port", std::to_string(st.listen_port));
  if (st.fwmark) line("fwmark", std::to_string(st.fwmark));
  for (const auto& p : st.peers) {
    key_line("public_key", p.public_key);
    key_line("preshared_key", p.preshared_key.value_or(crypto::Key()));
    line("protocol_version", "1");
    if (p.endpoint) line("endpoint", p.endpoint->str());
    line("last_handshake_time_sec", std::to_string(p.last_handshake_sec));
    line("last_handshake_time_nsec", std::to_string(p.last_handshake_nsec));
    line("tx_bytes", std::to_string(p.tx_bytes));
    line("rx_bytes", std::to_string(p.rx_bytes));
    line("persistent_keepalive_interval", std::to_string(p.persistent_keepalive));
    for (const auto& a : p.allowed_ips) line("allowed_ip", a.str());
  }
  s += "errno=0\n\n";
  return s;
}

std::string encode_errno(int error) { return "errno=" + std::to_string(error) + "\n\n"; }

}  // namespace wgnet::wg::uapi
