// What both engine backends (in wgnetd, EngineBackend; in a process of its own,
// EngineProcessBackend) do with the kernel's side of a device: its persistent TUN, named by its
// wgnet name (the link's alias, kept when Docker moves and renames it), and the handle "port=N".
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/linux/tun_linux.h"

namespace wgnet::wg::engine_links {

// The options of device `ifname`'s TUN: persistent (it outlives the engine and wgnetd, so the
// container keeps its wg0), owned by `owner` (while nobody holds it, nobody else may take it),
// alias = `ifname`. mtu 0: keep the device's.
engine::TunOptions tun_options(const std::string& ifname, uint32_t mtu, std::optional<uid_t> owner);

// The UDP port of handle "port=N"; nullopt for anything else.
std::optional<uint16_t> port_of(const std::string& handle);

// Attaches to the TUN whose alias is `ifname`, inside `netns` (a namespace file) or the host
// namespace when empty; nullptr when there is none. Throws when the namespace cannot be entered.
std::unique_ptr<engine::TunLinux> reattach(const std::string& ifname, const std::string& netns,
                                           std::optional<uid_t> owner);

// The name of the TUN device `tun_fd` is attached to (TUNGETIFF), in whatever namespace it is;
// nullopt when it is none (or gone).
std::optional<std::string> tun_name(int tun_fd);

// Whether `tun_fd` is attached to the TUN tagged `ifname` in `netns` (the host namespace when
// empty): same namespace (TUNGETDEVNETNS) and same name there. For descriptors another process
// handed over.
bool is_device(int tun_fd, const std::string& ifname, const std::string& netns);

// Sets the MTU of the link whose alias is `ifname` (inside `netns` when set).
void set_mtu(const std::string& ifname, const std::string& netns, uint32_t mtu);

// Deletes the TUN link tagged `ifname` (never another kind of link), in `netns` or the host
// namespace; what fails is logged at debug level (the link may be gone already).
void delete_link(const std::string& ifname, const std::string& netns);

}  // namespace wgnet::wg::engine_links
