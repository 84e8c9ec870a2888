// The kernel backend: rtnetlink for the link, the `wireguard` generic netlink family
// (netlink/wireguard.h) for its configuration.
#include "wg/kernel.h"

#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/wireguard.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "netlink/message.h"
#include "netlink/rtnl.h"
#include "netlink/wireguard.h"
#include "util/error.h"
#include "util/netns.h"
#include "wg/interface.h"

namespace wgnet::wg {

namespace rtnl = netlink::rtnl;
namespace wgnl = netlink::wireguard;
using netlink::NetlinkError;

namespace {

constexpr std::string_view kKind = "wireguard";
constexpr const char* kNoModule =
    "the kernel has no WireGuard support: it does not know the link kind 'wireguard' (the "
    "wireguard module is not loaded and could not be loaded)";

// The name of the device made as `ifname` in the current (a container's) namespace: the link whose
// alias is `ifname` (create() sets it; aliases survive moves and renames), else the only WireGuard
// link there (a device made before aliases were set).
std::optional<std::string> name_in_container(const std::string& ifname) {
  if (auto link = rtnl::find_link_by_alias(ifname)) return link->name;
  std::optional<std::string> only;
  for (const auto& link : rtnl::list_links()) {
    if (link.kind != kKind || !link.alias.empty()) continue;
    if (only) return std::nullopt;  // several: cannot tell which
    only = link.name;
  }
  return only;
}

}  // namespace

bool kernel_wireguard_available(std::string* why) {
  // At most 15 bytes: "wgnet-probe" + up to 4 digits.
  std::string name = "wgnet-probe" + std::to_string(getpid() % 10000);
  try {
    // A probe left behind by a process that crashed with the same pid.
    if (auto stale = rtnl::find_link(name); stale && stale->kind == kKind) rtnl::delete_link(name);
    rtnl::create_link(name, kKind);
  } catch (const NetlinkError& e) {
    if (why)
      *why = e.error_number() == EOPNOTSUPP
                 ? std::string(kNoModule)
                 : std::string("creating a probe WireGuard link failed: ") + e.what();
    return false;
  } catch (const SystemError& e) {
    if (why) *why = std::string("creating a probe WireGuard link failed: ") + e.what();
    return false;
  }
  try {
    rtnl::delete_link(name);
  } catch (const SystemError& e) {
    // WireGuard works; say why the probe may still be there rather than fail the probe.
    if (why)
      *why = "WireGuard is available, but the probe link could not be deleted: " +
             std::string(e.what());
  }
  return true;
}

std::string KernelBackend::create(const std::string& ifname, const DeviceConfig& config,
                                  uint32_t mtu) {
  try {
    rtnl::create_link(ifname, kKind);
  } catch (const NetlinkError& e) {
    if (e.error_number() != EOPNOTSUPP) throw;
    throw NetlinkError(EOPNOTSUPP, "kernel backend: cannot create " + ifname + ": " + kNoModule);
  }
  try {
    // Found by this name inside the container too, after Docker renamed it (status()).
    rtnl::set_alias(ifname, ifname);
    configure({ifname, "", ""}, config, mtu);
  } catch (...) {
    // Leave nothing behind, and report the failure itself rather than a failed clean-up.
    try {
      rtnl::delete_link(ifname);
    } catch (const SystemError&) {
    }
    throw;
  }
  return "";
}

void KernelBackend::configure(const DeviceRef& device, const DeviceConfig& config, uint32_t mtu) {
  const std::string& ifname = device.ifname;
  std::string what = "configure WireGuard device " + ifname;
  auto family = wgnl::open_family(what);
  auto messages = wgnl::encode_set_device(ifname, family.id, config);
  crypto::ScopedWipe wipe_messages(messages);
  for (size_t i = 0; i < messages.size(); ++i) {
    std::string part = messages.size() == 1 ? what
                                            : what + " (message " + std::to_string(i + 1) + " of " +
                                                  std::to_string(messages.size()) + ")";
    family.socket.request(messages[i], part);
  }
  rtnl::set_mtu(ifname, mtu);
}

void KernelBackend::remove(const DeviceRef& device) {
  const std::string& ifname = device.ifname;
  auto link = rtnl::find_link(ifname);
  if (!link) return;
  if (link->kind != kKind)
    throw InputError("kernel backend: refusing to delete " + ifname + ": it is a '" + link->kind +
                     "' link, not a WireGuard device");
  rtnl::delete_link(ifname);
}

bool KernelBackend::exists(const DeviceRef& device) {
  auto link = rtnl::find_link(device.ifname);
  return link && link->kind == kKind;
}

bool KernelBackend::adopt(const DeviceRef& device, const std::optional<DeviceConfig>&, uint32_t) {
  // Inside a container it carries on; in the host namespace it must still be there.
  return !device.netns.empty() || exists(device);
}

DeviceStatus KernelBackend::status(const DeviceRef& device) {
  if (!device.netns.empty()) {
    // After Join the device lives in the container under the name Docker gave it (wg0...).
    std::optional<DeviceStatus> inside;
    bool entered = false;
    try {
      netns::run_in(device.netns, [&] {
        entered = true;
        if (auto name = name_in_container(device.ifname))
          inside = read_interface(*name, Transport::kNetlink);
      });
    } catch (const SystemError&) {
      if (entered) throw;  // the device is there but cannot be read: say why
      // The namespace is gone: the device may be back in the host's (Docker moves it there).
    }
    if (inside) return *inside;
  }
  return read_interface(device.ifname, Transport::kNetlink);
}

}  // namespace wgnet::wg
