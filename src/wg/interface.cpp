// The kernel's replies are matched to what `wg` says in the same case: a missing module or a
// missing interface is named as such, not as a raw netlink errno.
#include "wg/interface.h"

#include <cerrno>

#include "netlink/wireguard.h"
#include "util/error.h"
#include "wg/uapi.h"

namespace wgnet::wg {

namespace wgnl = netlink::wireguard;

namespace {

// Opens the family, or says why this interface cannot be reached at all.
wgnl::Family open_for(const std::string& ifname) {
  try {
    return wgnl::open_family("WireGuard interface " + ifname);
  } catch (const netlink::NetlinkError& e) {
    if (e.error_number() != EOPNOTSUPP) throw;
    throw SystemError(ifname + ": no UAPI socket answers at " + uapi::socket_path(ifname) +
                      " and the kernel has no WireGuard module: is the interface up, and in "
                      "this network namespace?");
  }
}

[[noreturn]] void rethrow_named(const std::string& ifname, const netlink::NetlinkError& e) {
  if (e.error_number() == ENODEV)
    throw SystemError(ifname +
                      ": no such WireGuard interface in this network namespace (and no "
                      "UAPI socket at " +
                      uapi::socket_path(ifname) + ")");
  throw;
}

}  // namespace

const char* transport_name(Transport t) { return t == Transport::kUapi ? "uapi" : "netlink"; }

Transport transport_of(const std::string& ifname) {
  return uapi::reachable(ifname) ? Transport::kUapi : Transport::kNetlink;
}

DeviceStatus read_interface(const std::string& ifname, Transport transport) {
  if (transport == Transport::kUapi) return uapi::get(ifname);
  auto family = open_for(ifname);
  auto request = wgnl::encode_get_device(ifname, family.id);
  try {
    auto dump = family.socket.dump(request, "read WireGuard device " + ifname);
    crypto::ScopedWipe wipe_dump(dump);
    return wgnl::decode_get_device(dump);
  } catch (const netlink::NetlinkError& e) {
    rethrow_named(ifname, e);
  }
}

void change_interface(const std::string& ifname, Transport transport,
                      const std::vector<uapi::SetOp>& ops) {
  if (transport == Transport::kUapi) return uapi::set_ops(ifname, ops);
  auto family = open_for(ifname);
  auto messages = wgnl::encode_set_ops(ifname, family.id, ops);
  crypto::ScopedWipe wipe_messages(messages);
  try {
    for (size_t i = 0; i < messages.size(); ++i)
      family.socket.request(messages[i], "change WireGuard device " + ifname + " (message " +
                                             std::to_string(i + 1) + " of " +
                                             std::to_string(messages.size()) + ")");
  } catch (const netlink::NetlinkError& e) {
    rethrow_named(ifname, e);
  }
}

}  // namespace wgnet::wg
