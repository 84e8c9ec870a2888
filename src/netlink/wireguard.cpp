// The `wireguard` generic netlink family's messages (WG_CMD_SET_DEVICE / WG_CMD_GET_DEVICE),
// encoded and decoded without a kernel, so they are tested byte for byte.
#include "netlink/wireguard.h"

#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/wireguard.h>
#include <netinet/in.h>

#include <cstring>
#include <optional>

#include "netlink/genl.h"
#include "netlink/message.h"
#include "netlink/rtnl.h"
#include "util/error.h"

namespace wgnet::netlink::wireguard {

using wg::DeviceConfig;
using wg::DeviceStatus;
using wg::Endpoint;
using wg::PeerConfig;
using wg::PeerStatus;

namespace {

// What the first SET_DEVICE message says about the device itself.
struct DeviceHead {
  const crypto::Key* private_key = nullptr;
  std::optional<uint16_t> listen_port;
  std::optional<uint32_t> fwmark;
  uint32_t flags = 0;
};

// One peer's attributes, written where the peer first appears; a peer whose allowed IPs overflow
// a message continues in the next with its public key and allowed IPs only.
struct PeerPart {
  const crypto::Key* public_key = nullptr;
  std::optional<uint32_t> flags;
  std::optional<crypto::Key> preshared_key;  // a secret: Key wipes itself
  std::optional<Endpoint> endpoint;
  std::optional<uint16_t> keepalive;
  std::span<const Cidr> allowed_ips;
  bool allowed_ips_nest = true;  // a removed peer gets none
};

// Builds the SET_DEVICE messages of one change, opening a new message whenever the next peer or
// allowed IP would not fit in the current one.
class SetDeviceEncoder {
 public:
  SetDeviceEncoder(std::string_view ifname, uint16_t family, size_t max, const DeviceHead& head)
      : ifname_(ifname), family_(family), max_(max), head_(head) {
    rtnl::check_ifname(ifname);
    start_message(true);
  }
  ~SetDeviceEncoder() {
    crypto::wipe(out_);
  }

  void add_peer(const PeerPart& peer) {
    open_peer(peer, true);
    for (const Cidr& cidr : peer.allowed_ips) {
      size_t mark = b_->size();
      put_allowed_ip(cidr);
      if (!overflows()) continue;
      b_->truncate(mark);
      close_peer();
      flush();
      // The peer continues in the next message: without flags, so nothing is replaced again.
      open_peer(peer, false);
      put_allowed_ip(cidr);
      if (overflows()) throw_too_small();
    }
    close_peer();
  }

  std::vector<std::vector<uint8_t>> finish() {
    end_message();
    return std::move(out_);
  }

 private:
  void start_message(bool first) {
    b_.emplace(family_, NLM_F_REQUEST | NLM_F_ACK);
    b_->genl(WG_CMD_SET_DEVICE, WG_GENL_VERSION);
    b_->put_string(WGDEVICE_A_IFNAME, ifname_);
    if (!first) return;
    if (head_.private_key) b_->put(WGDEVICE_A_PRIVATE_KEY, head_.private_key->span());
    if (head_.listen_port) b_->put_u16(WGDEVICE_A_LISTEN_PORT, *head_.listen_port);
    if (head_.fwmark) b_->put_u32(WGDEVICE_A_FWMARK, *head_.fwmark);
    if (head_.flags) b_->put_u32(WGDEVICE_A_FLAGS, head_.flags);
  }

  void end_message() {
    if (peers_) b_->end_nested(*peers_);
    peers_.reset();
    out_.push_back(b_->finish());
  }

  void flush() {
    end_message();
    start_message(false);
  }

  bool overflows() const { return b_->size() > max_; }

  [[noreturn]] void throw_too_small() const {
    throw InputError("WireGuard configuration of " + std::string(ifname_) +
                     ": a netlink message of " + std::to_string(max_) +
                     " bytes cannot hold even one peer");
  }

  // Opens the peer's nest, writes its attributes and opens its ALLOWEDIPS nest, moving to a
  // new message when that does not fit in this one.
  void open_peer(const PeerPart& peer, bool first_part) {
    size_t mark = b_->size();
    bool message_had_peers = peers_.has_value();
    put_peer_head(peer, first_part);
    if (!overflows()) return;
    if (!message_had_peers) throw_too_small();
    b_->truncate(mark);
    flush();
    put_peer_head(peer, first_part);
    if (overflows()) throw_too_small();
  }

  void put_peer_head(const PeerPart& peer, bool first_part) {
    if (!peers_) peers_ = b_->begin_nested(WGDEVICE_A_PEERS);
    peer_ = b_->begin_nested(0);
    b_->put(WGPEER_A_PUBLIC_KEY, peer.public_key->span());
    if (first_part) {
      if (peer.flags) b_->put_u32(WGPEER_A_FLAGS, *peer.flags);
      if (peer.preshared_key) b_->put(WGPEER_A_PRESHARED_KEY, peer.preshared_key->span());
      if (peer.endpoint) put_endpoint(*peer.endpoint);
      if (peer.keepalive) b_->put_u16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, *peer.keepalive);
    }
    allowed_.reset();
    if (peer.allowed_ips_nest) allowed_ = b_->begin_nested(WGPEER_A_ALLOWEDIPS);
  }

  void put_endpoint(const Endpoint& ep) {
    if (ep.address.is_v4()) {
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(ep.port);
      std::memcpy(&sa.sin_addr, ep.address.bytes().data(), 4);
      b_->put_struct(WGPEER_A_ENDPOINT, sa);
    } else if (ep.address.is_v6()) {
      sockaddr_in6 sa{};
      sa.sin6_family = AF_INET6;
      sa.sin6_port = htons(ep.port);
      std::memcpy(&sa.sin6_addr, ep.address.bytes().data(), 16);
      b_->put_struct(WGPEER_A_ENDPOINT, sa);
    } else {
      throw InputError("WireGuard configuration of " + std::string(ifname_) +
                       ": a peer endpoint has no address");
    }
  }

  void put_allowed_ip(const Cidr& cidr) {
    const IpAddress& addr = cidr.address();
    if ((!addr.is_v4() && !addr.is_v6()) || cidr.prefix() < 0 || cidr.prefix() > addr.bits())
      throw InputError("WireGuard configuration of " + std::string(ifname_) +
                       ": invalid allowed IP '" + cidr.str() + "'");
    size_t nest = b_->begin_nested(0);
    b_->put_u16(WGALLOWEDIP_A_FAMILY, addr.is_v4() ? AF_INET : AF_INET6);
    b_->put(WGALLOWEDIP_A_IPADDR, addr.bytes());
    b_->put_u8(WGALLOWEDIP_A_CIDR_MASK, static_cast<uint8_t>(cidr.prefix()));
    b_->end_nested(nest);
  }

  void close_peer() {
    if (allowed_) b_->end_nested(*allowed_);
    b_->end_nested(peer_);
  }

  std::string_view ifname_;
  uint16_t family_;
  size_t max_;
  const DeviceHead& head_;
  std::optional<MessageBuilder> b_;
  std::vector<std::vector<uint8_t>> out_;
  std::optional<size_t> peers_;  // the open WGDEVICE_A_PEERS nest of this message
  size_t peer_ = 0;
  std::optional<size_t> allowed_;
};

[[noreturn]] void throw_op(std::string_view ifname, const std::string& why) {
  throw InputError("WireGuard change of " + std::string(ifname) + ": " + why);
}

// The peer operations of `ops`, grouped per peer into parts; device operations go to `head`.
// `ips` holds every part's allowed IPs (the parts point into it).
std::vector<PeerPart> parts_of_ops(std::string_view ifname, const std::vector<wg::uapi::SetOp>& ops,
                                   DeviceHead& head, std::vector<std::vector<Cidr>>& ips) {
  using K = wg::uapi::SetOp::Kind;
  std::vector<PeerPart> parts;
  ips.clear();
  for (const auto& op : ops) {
    bool device_op = op.kind == K::kPrivateKey || op.kind == K::kListenPort ||
                     op.kind == K::kFwmark || op.kind == K::kReplacePeers;
    if (device_op && !parts.empty()) throw_op(ifname, "a device setting after the first peer");
    if (!device_op && op.kind != K::kPublicKey && parts.empty())
      throw_op(ifname, "a peer setting before any public_key");
    PeerPart* p = parts.empty() ? nullptr : &parts.back();
    auto add_flag = [&](uint32_t f) { p->flags = p->flags.value_or(0) | f; };
    switch (op.kind) {
      case K::kPrivateKey:
        head.private_key = &op.key;
        break;
      case K::kListenPort:
        head.listen_port = static_cast<uint16_t>(op.number);
        break;
      case K::kFwmark:
        head.fwmark = op.number;
        break;
      case K::kReplacePeers:
        head.flags |= WGDEVICE_F_REPLACE_PEERS;
        break;
      case K::kPublicKey:
        parts.emplace_back().public_key = &op.key;
        ips.emplace_back();
        break;
      case K::kRemove:
        add_flag(WGPEER_F_REMOVE_ME);
        break;
      case K::kUpdateOnly:
        add_flag(WGPEER_F_UPDATE_ONLY);
        break;
      case K::kReplaceAllowedIps:
        add_flag(WGPEER_F_REPLACE_ALLOWEDIPS);
        break;
      case K::kPresharedKey:
        p->preshared_key = op.key;
        break;
      case K::kEndpoint:
        p->endpoint = op.endpoint;
        break;
      case K::kPersistentKeepalive:
        p->keepalive = static_cast<uint16_t>(op.number);
        break;
      case K::kAllowedIp:
        ips.back().push_back(op.prefix);
        break;
      case K::kRemoveAllowedIp:
        throw_op(ifname, "the kernel's netlink interface cannot remove one allowed IP (" +
                             op.prefix.str() + "); replace the peer's allowed IPs instead");
      case K::kProtocolVersion:
        break;  // always 1, the kernel's only version
    }
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    parts[i].allowed_ips = ips[i];
    // The kernel removes a peer before looking at anything else it says.
    parts[i].allowed_ips_nest = !(parts[i].flags.value_or(0) & WGPEER_F_REMOVE_ME);
  }
  return parts;
}

crypto::Key read_key(const Attribute& a) {
  if (a.payload().size() != crypto::Key::kSize)
    throw_malformed("WireGuard key attribute of " + std::to_string(a.payload().size()) +
                             " bytes");
  return crypto::Key(a.payload().first<crypto::Key::kSize>());
}

// A sockaddr_in or sockaddr_in6 (whose size the caller checked) as an Endpoint.
template <typename Sockaddr, typename Addr>
Endpoint endpoint_from(std::span<const uint8_t> p, Addr Sockaddr::*addr,
                       in_port_t Sockaddr::*port) {
  Sockaddr sa;
  std::memcpy(&sa, p.data(), sizeof sa);
  auto bytes = std::span(reinterpret_cast<const uint8_t*>(&(sa.*addr)), sizeof(Addr));
  return Endpoint{IpAddress::from_bytes(bytes), ntohs(sa.*port)};
}

// sockaddr_in / sockaddr_in6 as the kernel fills them; other families mean "no endpoint".
std::optional<Endpoint> decode_endpoint(std::span<const uint8_t> p) {
  sa_family_t family = 0;
  if (p.size() < sizeof family) return std::nullopt;
  std::memcpy(&family, p.data(), sizeof family);
  if (family == AF_INET && p.size() >= sizeof(sockaddr_in))
    return endpoint_from(p, &sockaddr_in::sin_addr, &sockaddr_in::sin_port);
  if (family == AF_INET6 && p.size() >= sizeof(sockaddr_in6))
    return endpoint_from(p, &sockaddr_in6::sin6_addr, &sockaddr_in6::sin6_port);
  return std::nullopt;
}

Cidr decode_allowed_ip(const std::vector<Attribute>& attrs) {
  auto family = find_attribute(attrs, WGALLOWEDIP_A_FAMILY);
  auto addr = find_attribute(attrs, WGALLOWEDIP_A_IPADDR);
  auto mask = find_attribute(attrs, WGALLOWEDIP_A_CIDR_MASK);
  if (!family || !addr || !mask)
    throw_malformed("allowed IP without family, address or mask");
  size_t len = family->u16() == AF_INET ? 4 : family->u16() == AF_INET6 ? 16 : 0;
  if (len == 0 || addr->payload().size() != len || mask->u8() > len * 8)
    throw_malformed("allowed IP of family " + std::to_string(family->u16()) + " with " +
                             std::to_string(addr->payload().size()) + " address bytes and mask " +
                             std::to_string(mask->u8()));
  return Cidr(IpAddress::from_bytes(addr->payload()), mask->u8());
}

PeerStatus decode_peer(const std::vector<Attribute>& attrs) {
  PeerStatus peer;
  bool have_key = false;
  for (const Attribute& a : attrs) {
    switch (a.type()) {
      case WGPEER_A_PUBLIC_KEY:
        peer.public_key = read_key(a);
        have_key = true;
        break;
      case WGPEER_A_ENDPOINT:
        peer.endpoint = decode_endpoint(a.payload());
        break;
      case WGPEER_A_LAST_HANDSHAKE_TIME: {
        // struct __kernel_timespec: two 64-bit fields on every architecture.
        int64_t t[2];
        if (a.payload().size() != sizeof t)
          throw_malformed("last handshake time of " + std::to_string(a.payload().size()) +
                                   " bytes");
        std::memcpy(t, a.payload().data(), sizeof t);
        peer.last_handshake_sec = t[0];
        peer.last_handshake_nsec = t[1];
        break;
      }
      case WGPEER_A_RX_BYTES:
        peer.rx_bytes = a.u64();
        break;
      case WGPEER_A_TX_BYTES:
        peer.tx_bytes = a.u64();
        break;
      case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
        peer.persistent_keepalive = a.u16();
        break;
      case WGPEER_A_ALLOWEDIPS:
        for (const Attribute& ip : a.nested())
          peer.allowed_ips.push_back(decode_allowed_ip(ip.nested()));
        break;
      default:
        break;  // the preshared key is not reported; the protocol version is always 1
    }
  }
  if (!have_key) throw_malformed("WireGuard peer without a public key");
  return peer;
}

// The kernel continues a peer with many allowed IPs in the next message, repeating only its
// public key: those continuations add allowed IPs to the peer before them.
void merge_peer(std::vector<PeerStatus>& peers, PeerStatus peer) {
  if (!peers.empty() && peers.back().public_key == peer.public_key) {
    auto& ips = peers.back().allowed_ips;
    ips.insert(ips.end(), peer.allowed_ips.begin(), peer.allowed_ips.end());
    return;
  }
  peers.push_back(std::move(peer));
}


}  // namespace


std::vector<std::vector<uint8_t>> encode_set_device(std::string_view ifname, uint16_t family_id,
                                                    const DeviceConfig& config,
                                                    size_t max_message_size) {
  DeviceHead head;
  if (config.private_key) head.private_key = &*config.private_key;
  head.listen_port = config.listen_port;
  // Always sent: the configuration is complete, so 0 must clear an earlier mark.
  head.fwmark = config.fwmark;
  if (config.replace_peers) head.flags = WGDEVICE_F_REPLACE_PEERS;
  SetDeviceEncoder encoder(ifname, family_id, max_message_size, head);
  for (const PeerConfig& peer : config.peers) {
    PeerPart part;
    part.public_key = &peer.public_key;
    part.flags = WGPEER_F_REPLACE_ALLOWEDIPS;
    // Always sent (all zeros = none) so re-applying a configuration also clears a key.
    part.preshared_key = peer.preshared_key.value_or(crypto::Key{});
    part.endpoint = peer.endpoint;
    part.keepalive = peer.persistent_keepalive;
    part.allowed_ips = peer.allowed_ips;
    encoder.add_peer(part);
  }
  return encoder.finish();
}

std::vector<std::vector<uint8_t>> encode_set_ops(std::string_view ifname, uint16_t family_id,
                                                 const std::vector<wg::uapi::SetOp>& ops,
                                                 size_t max_message_size) {
  DeviceHead head;
  std::vector<std::vector<Cidr>> ips;
  auto parts = parts_of_ops(ifname, ops, head, ips);
  SetDeviceEncoder encoder(ifname, family_id, max_message_size, head);
  for (const auto& part : parts) encoder.add_peer(part);
  return encoder.finish();
}

std::vector<uint8_t> encode_get_device(std::string_view ifname, uint16_t family_id) {
  rtnl::check_ifname(ifname);
  MessageBuilder b(family_id, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP);
  b.genl(WG_CMD_GET_DEVICE, WG_GENL_VERSION);
  b.put_string(WGDEVICE_A_IFNAME, ifname);
  return b.finish();
}

DeviceStatus decode_get_device(std::span<const uint8_t> dump) {
  DeviceStatus status;
  for (const Message& m : parse_messages(dump)) {
    if (m.header.nlmsg_type < NLMSG_MIN_TYPE) continue;  // NOOP/DONE carry no device data
    for (const Attribute& a : m.attributes(GENL_HDRLEN)) {
      switch (a.type()) {
        case WGDEVICE_A_PUBLIC_KEY:
          status.public_key = read_key(a);
          break;
        case WGDEVICE_A_LISTEN_PORT:
          status.listen_port = a.u16();
          break;
        case WGDEVICE_A_PEERS:
          for (const Attribute& p : a.nested()) merge_peer(status.peers, decode_peer(p.nested()));
          break;
        default:
          break;  // the private key is never reported back
      }
    }
  }
  return status;
}

Family open_family(const std::string& what) {
  Socket socket(NETLINK_GENERIC);
  auto id = genl::family_id(socket, WG_GENL_NAME);
  if (!id)
    throw NetlinkError(EOPNOTSUPP, what + ": the kernel has no '" WG_GENL_NAME
                                          "' generic netlink family (the WireGuard module is "
                                          "not loaded)");
  return {std::move(socket), *id};
}

}  // namespace wgnet::netlink::wireguard
