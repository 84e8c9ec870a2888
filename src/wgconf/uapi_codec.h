// The cross-platform userspace API (UAPI) text protocol that `wg` speaks to userspace WireGuard
// over /var/run/wireguard/<iface>.sock: pure encoding and decoding, shared by the client (the
// external backend) and the engine's UAPI server. No I/O here.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/number.h"
#include "wgconf/config.h"

namespace wgnet::wg::uapi {

// One line of a "set" request, as an operation. A device applies them in order with
// wireguard-go's semantics: `public_key` selects (or creates) the peer the following peer
// operations apply to.
struct SetOp {
  enum class Kind : uint8_t {
    // device
    kPrivateKey,    // key (zero: remove the private key)
    kListenPort,    // number
    kFwmark,        // number
    kReplacePeers,  // remove every peer
    // peer
    kPublicKey,            // key: select or create
    kRemove,               // remove the selected peer
    kUpdateOnly,           // do not create the selected peer if it is new
    kPresharedKey,         // key (zero: none)
    kEndpoint,             // endpoint
    kPersistentKeepalive,  // number, seconds
    kReplaceAllowedIps,    // remove the peer's allowed IPs
    kAllowedIp,            // prefix
    kRemoveAllowedIp,      // prefix ("-" before the value)
    kProtocolVersion,      // always 1
  };
  Kind kind;
  crypto::Key key;
  uint32_t number = 0;
  Endpoint endpoint;
  Cidr prefix;
};

// A parsed "set" request. wireguard-go applies each line as it reads it and stops at the first
// bad one, so `ops` are the lines before the error (to be applied), and `error` is 0 or the
// negative errno it answers (-EPROTO for a line without '=', -EINVAL for a bad key or value).
struct SetRequest {
  std::vector<SetOp> ops;
  int error = 0;
};

// ---- the grammar's pieces (shared with the engine's control codec) ----

// Splits text into lines at '\n' (the last line may lack its '\n'): the one line splitter of the
// UAPI grammar.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : rest_(text) {}
  // The next line without its '\n'; nullopt once the text is used up.
  std::optional<std::string_view> next();
  // The text after the lines read so far.
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
};

// A "key=value" line split at its first '='; nullopt when it has none.
struct KeyValue {
  std::string_view key;
  std::string_view value;
};
std::optional<KeyValue> split_key_value(std::string_view line);

// Go's strconv.ParseUint(v, 10, 64) bounded by `max`: decimal digits only; nullopt otherwise.
using wgnet::parse_uint;
// A key as 64 hex digits; nullopt otherwise (the decoded bytes are wiped either way).
std::optional<crypto::Key> parse_key(std::string_view v);

// "set=1\n" ... "\n": the whole configuration, replacing peers when config.replace_peers.
std::string encode_set(const DeviceConfig& config);
// The operations of a whole configuration: what encode_set writes, as operations.
std::vector<SetOp> ops_of(const DeviceConfig& config);
// The lines of a request for `ops` ("set=1\n" first, the blank line last).
std::string encode_ops(const std::vector<SetOp>& ops);

// The configuration that `ops` set, when they have the shape ops_of writes (device operations,
// then peers with a key, endpoint, keepalive, allowed IPs); nullopt for operations only a
// change carries (remove, update_only, an allowed IP removed). The inverse of ops_of.
std::optional<DeviceConfig> config_of(const std::vector<SetOp>& ops);

// ---- the server side (the engine) ----

// Parses what follows "set=1\n": lines up to a blank line or the end of `body`.
SetRequest parse_set(std::string_view body);
// The whole reply to "get=1": device lines, peers, then "errno=0\n\n", in the format wg expects.
// `status` should carry its secrets (private and preshared keys); the reply then holds them, so
// the caller wipes it after use.
std::string encode_get(const DeviceStatus& status);
// "errno=N\n\n", the reply to a set (and to a failed get).
std::string encode_errno(int error);
// Parses the body of a "get=1" reply (up to and including "errno=N"). Throws SystemError when
// errno is non-zero or a line is malformed. Secrets are not kept: private_key gives public_key,
// preshared_key gives has_preshared_key.
DeviceStatus decode_get(std::string_view reply);

}  // namespace wgnet::wg::uapi
