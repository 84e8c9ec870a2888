// One interface for every way of making a WireGuard device: kernel, engine, external.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "wgconf/config.h"

namespace wgnet::wg {

// A backend creates WireGuard network devices in the *current* network namespace (the host's),
// where their UDP sockets stay even after Docker moves the link into a container.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // Creates link `ifname` (at most 15 bytes), applies `config` completely and sets `mtu`.
  // On failure nothing is left behind. Throws SystemError / InputError.
  virtual void create(const std::string& ifname, const DeviceConfig& config, uint32_t mtu) = 0;
  // Re-applies the whole configuration and the MTU to an existing device in the current
  // namespace (Join does this, so a device is complete whatever happened before).
  virtual void configure(const std::string& ifname, const DeviceConfig& config, uint32_t mtu) = 0;
  // Deletes the device and whatever serves it; a device that is already gone is not an error.
  virtual void remove(const std::string& ifname) = 0;
  // Whether this backend serves a device of that name (in any namespace, where it can tell).
  virtual bool exists(const std::string& ifname) = 0;
  virtual DeviceStatus status(const std::string& ifname) = 0;
  // Called (from a backend thread) with the name of a device that died on its own, such as a
  // userspace WireGuard process that exited. Backends whose devices cannot die never call it.
  using LostHandler = std::function<void(const std::string& ifname)>;
  virtual void on_lost(LostHandler handler) { (void)handler; }
  // Takes over watching a device an earlier wgnetd made (after a restart). False when what served
  // the device is gone (it died while wgnetd was down); backends with nothing to watch say true.
  virtual bool adopt(const std::string& ifname) {
    (void)ifname;
    return true;
  }
  // Names of devices this backend serves whose name starts with `prefix` (for reconciliation).
  virtual std::vector<std::string> list(const std::string& prefix) = 0;
};

}  // namespace wgnet::wg
