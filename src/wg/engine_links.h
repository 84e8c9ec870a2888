// What both engine backends (in wgnetd, EngineBackend; in a process of its own,
// EngineProcessBackend) do with the kernel's side of a device: its persistent TUN, named by its
// wgnet name (the link's alias, kept when Docker moves and renames it), and the handle "port=N";
// and the one lost-handler slot of Backend::on_lost's contract.
#pragma once
#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "engine/linux/tun_linux.h"
#include "wg/backend.h"

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

// Sets the MTU of the link whose alias is `ifname` (inside `netns` when set).
void set_mtu(const std::string& ifname, const std::string& netns, uint32_t mtu);

// Deletes the TUN link tagged `ifname` (never another kind of link), in `netns` or the host
// namespace; what fails is logged at debug level (the link may be gone already).
void delete_link(const std::string& ifname, const std::string& netns);

// Backend::on_lost's handler: installed from any thread; set(nullptr) returns only when no call of
// the old handler is running.
class LostSlot {
 public:
  void set(Backend::LostHandler handler);
  // Logs that device `ifname` is gone (`why`) and calls the handler, when one is installed.
  void report(const std::string& ifname, const std::string& why);

 private:
  std::mutex mu_;
  Backend::LostHandler handler_;
  int running_ = 0;
  std::condition_variable done_;
};

}  // namespace wgnet::wg::engine_links
