// Fuzzes both sides of the UAPI text protocol (wgconf/uapi_codec.h): the server's "set" parser
// (parse_set) and the client's "get" reply decoder (decode_get). Checks: parse_set never throws,
// its operations encode (encode_ops) and parse back to the same operations, and applied to a
// configuration (apply_ops, what wgnetd keeps of a relayed `wg set`) leave no two peers with one
// key, no peer with the device's own key and no prefix with two peers; decode_get throws only
// SystemError, and what it decodes encodes (encode_get) and decodes back.
#include <cerrno>
#include <set>

#include "crypto/x25519.h"
#include "fuzz_util.h"
#include "wgconf/apply_ops.h"
#include "wgconf/uapi_codec.h"

using namespace wgnet;
using wg::uapi::SetOp;

namespace {

bool same(const SetOp& a, const SetOp& b) {
  return a.kind == b.kind && a.key == b.key && a.number == b.number && a.endpoint == b.endpoint &&
         a.prefix == b.prefix;
}

void check_set(std::string_view body) {
  const wg::uapi::SetRequest req = wg::uapi::parse_set(body);
  FUZZ_CHECK(req.error == 0 || req.error == -EPROTO || req.error == -EINVAL);
  FUZZ_CHECK(req.ops.size() <= body.size() / 2 + 1);  // one per line of at least "k="
  const std::string text = wg::uapi::encode_ops(req.ops);
  FUZZ_CHECK(text.rfind("set=1\n", 0) == 0);
  const wg::uapi::SetRequest again = wg::uapi::parse_set(std::string_view(text).substr(6));
  FUZZ_CHECK(again.error == 0 && again.ops.size() == req.ops.size());
  for (size_t i = 0; i < req.ops.size(); i++) FUZZ_CHECK(same(req.ops[i], again.ops[i]));

  wg::DeviceConfig config;
  wg::apply_ops(config, req.ops);
  size_t selects = 0;
  for (const SetOp& op : req.ops) selects += op.kind == SetOp::Kind::kPublicKey;
  FUZZ_CHECK(config.peers.size() <= selects);
  std::set<std::string> keys, prefixes;
  const std::optional<crypto::Key> own =
      config.private_key ? std::optional(crypto::public_key(*config.private_key)) : std::nullopt;
  for (const wg::PeerConfig& p : config.peers) {
    FUZZ_CHECK(!own || !(p.public_key == *own));
    FUZZ_CHECK(
        keys.insert(std::string(p.public_key.span().begin(), p.public_key.span().end())).second);
    for (const Cidr& c : p.allowed_ips) {
      FUZZ_CHECK(c.is_network());
      FUZZ_CHECK(prefixes.insert(c.str()).second);
    }
  }
}

void check_get(std::string_view reply) {
  wg::DeviceStatus st;
  try {
    st = wg::uapi::decode_get(reply);
  } catch (const SystemError&) {
    return;  // a bad reply is the other side's fault: SystemError, never InputError
  }
  const wg::DeviceStatus again = wg::uapi::decode_get(wg::uapi::encode_get(st));
  FUZZ_CHECK(again.listen_port == st.listen_port && again.fwmark == st.fwmark);
  FUZZ_CHECK(again.peers.size() == st.peers.size());
  for (size_t i = 0; i < st.peers.size(); i++) {
    const auto &a = st.peers[i], &b = again.peers[i];
    FUZZ_CHECK(a.public_key == b.public_key && a.endpoint == b.endpoint &&
               a.last_handshake_sec == b.last_handshake_sec &&
               a.last_handshake_nsec == b.last_handshake_nsec && a.rx_bytes == b.rx_bytes &&
               a.tx_bytes == b.tx_bytes && a.persistent_keepalive == b.persistent_keepalive &&
               a.allowed_ips == b.allowed_ips);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  check_set(text);
  check_get(text);
  return 0;
}
