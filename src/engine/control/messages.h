// The control protocol's messages (docs/PRIVSEP-PLAN.md 1.2) as typed structs, to and from
// message bodies. A body is the UAPI grammar: the message's own fields as "key=value" lines (at
// most 16 keys, each from its type's table; lines of at most 256 bytes), then for a message that
// carries one a blank line and a body: a UAPI set body (wg::uapi::encode_set's lines after
// "set=1"), a UAPI get reply, or counters. Pure; the fuzzed UAPI codec parses what it can.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "crypto/secure.h"
#include "engine/control/frame.h"
#include "wgconf/config.h"

namespace wgnet::engine::control {

inline constexpr uint32_t kProtocol = 1;

// How wgnetd set up a device's TUN (engine/linux TunFeatures, which this pure codec cannot name).
struct TunFlags {
  bool vnet_hdr = false;
  bool tso = false;
  bool uso = false;
  bool operator==(const TunFlags&) const = default;
};
// The UDP sockets passed with a message (UDP4, and UDP6 when ipv6): their port and features.
struct UdpBinding {
  uint16_t port = 0;
  bool gro = false;
  bool gso = false;
  bool ipv6 = false;
  unsigned fds() const { return ipv6 ? 2 : 1; }
  bool operator==(const UdpBinding&) const = default;
};

// ---- wgnetd → engine: requests ----

struct Hello {
  uint32_t protocol = kProtocol;
  std::string build;
};
// Descriptors: TUN, UDP4, [UDP6].
struct AddDevice {
  std::string name;
  uint32_t mtu = 0;
  TunFlags tun;
  UdpBinding udp;
  wg::DeviceConfig config;
};
// Descriptors: UDP4, [UDP6] when `rebind` (a new listen port), else none.
struct Configure {
  std::string name;
  std::optional<UdpBinding> rebind;
  wg::DeviceConfig config;
};
// A user's `wg set`, proxied: what followed "set=1\n", unparsed (the engine answers its errno).
struct UapiSet {
  std::string name;
  std::optional<UdpBinding> rebind;
  crypto::SecretBytes body;
};
struct Get {
  std::string name;
};
struct Info {
  std::string name;
};
struct SetMtu {
  std::string name;
  uint32_t mtu = 0;
};
struct RemoveDevice {
  std::string name;
};
struct Export {};
struct Shutdown {};
// A type this protocol does not know: answered -ENOSYS.
struct UnknownRequest {
  Type type{};
};
using Request = std::variant<Hello, AddDevice, Configure, UapiSet, Get, Info, SetMtu, RemoveDevice,
                             Export, Shutdown, UnknownRequest>;

// ---- engine → wgnetd: replies and events ----

// What every reply starts with: 0 or a negative errno, and a text for the log. A reply with an
// error carries nothing else.
struct Status {
  int error = 0;
  std::string message;
};
// The reply to any request that returns nothing but its status.
struct Reply {
  Type request{};
  Status status;
};
struct HelloReply {
  Status status;
  uint32_t protocol = kProtocol;
  uint32_t pid = 0;
  std::string build;
  uint32_t devices = 0;
};
// `uapi`: the device's UAPI get reply (with keys), when status.error is 0.
struct GetReply {
  Status status;
  crypto::SecretBytes uapi;
};
struct Counter {
  std::string name;  // [a-z0-9_.]{1,64}, e.g. "tun.reads"
  uint64_t value = 0;
  bool operator==(const Counter&) const = default;
};
struct InfoReply {
  Status status;
  std::string ifname;
  uint32_t ifindex = 0;
  uint32_t mtu = 0;
  uint16_t listen_port = 0;
  bool lost = false;
  std::vector<Counter> counters;  // at most kMaxCounters, names unique
};
inline constexpr size_t kMaxCounters = 64;
// One device of an Export; descriptors: TUN, UDP4, [UDP6].
struct ExportDevice {
  std::string name;
  uint32_t mtu = 0;
  TunFlags tun;
  UdpBinding udp;
  bool lost = false;
};
// Ends an Export, after its ExportDevice messages.
struct ExportReply {
  Status status;
  uint32_t devices = 0;
};
// An event: its id is 0.
struct DeviceLost {
  std::string name;
  std::string why;
};
using FromEngine =
    std::variant<Reply, HelloReply, GetReply, InfoReply, ExportDevice, ExportReply, DeviceLost>;

// The message (type, body, how many descriptors go with it) for `id`. Names must be interface
// names and counters well-formed (else ProtocolError); free texts (message, why, build) are cut
// to fit a line and their control characters replaced. The body holds what the message holds
// (keys): Message wipes it.
Message encode_request(const Request& request, uint32_t id);
Message encode_from_engine(const FromEngine& message, uint32_t id);

// The type a request travels as (an unknown one's own).
Type type_of(const Request& request);

// The answer to a request of a type this protocol does not know: -ENOSYS.
Reply answer_unknown(const UnknownRequest& request);

// The typed message, checked: the type's direction, its keys and values, the body, and the
// descriptor count against the fields. Throws ProtocolError naming the type and the field.
Request decode_request(const Message& message);
FromEngine decode_from_engine(const Message& message);

}  // namespace wgnet::engine::control
