// A running WireGuard interface reached by its name, whichever way it speaks: its UAPI socket
// (userspace implementations: wireguard-go, wgnet's engine) when one answers, else the kernel's
// `wireguard` generic netlink family. What `wgnet hub sync` reads and changes, in the network
// namespace that is current.
#pragma once
#include <string>
#include <vector>

#include "wgconf/config.h"
#include "wgconf/uapi_codec.h"

namespace wgnet::wg {

enum class Transport { kUapi, kNetlink };
const char* transport_name(Transport t);  // "uapi", "netlink"

// kUapi when something answers on /var/run/wireguard/IFNAME.sock, else kNetlink.
Transport transport_of(const std::string& ifname);

// The interface's status (public keys, peers, counters; no secrets). Throws SystemError naming the
// interface when it cannot be read (no such interface, no WireGuard in the kernel).
DeviceStatus read_interface(const std::string& ifname, Transport transport);

// Applies `ops` (wgconf's incremental operations) to the interface. Throws SystemError (the
// interface refused or cannot be reached) or InputError (what netlink cannot express).
void change_interface(const std::string& ifname, Transport transport,
                      const std::vector<uapi::SetOp>& ops);

}  // namespace wgnet::wg
