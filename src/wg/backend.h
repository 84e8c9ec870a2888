// One interface for every way of making a WireGuard device: kernel, engine, external.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wgconf/config.h"

namespace wgnet::wg {

// A device as the driver remembers it between calls and across restarts.
struct DeviceRef {
  std::string ifname;  // its name in the host namespace (at most 15 bytes)
  // What the backend needs to find the device again after a restart (the PID and start time of
  // the process serving it, the UDP port it listened on...): opaque text the backend returns from
  // create(), stored by the caller with the endpoint and handed back unchanged.
  std::string handle;
  // The network namespace (a bind-mounted file such as Docker's SandboxKey) the device lives in
  // once Docker moved it into a container; empty while it is in the host namespace.
  std::string netns;
};

// A backend creates WireGuard devices in the *current* network namespace (the host's), where
// their UDP sockets stay even after Docker moves the link into a container.
//
// Lifecycle and threads: one instance per wgnetd, made on first use by wg::Backends and destroyed
// after the driver. Every method may be called from several threads at once; calls for the same
// device are serialised by the caller. The lost-handler runs on a backend thread and must not
// outlive the object that installed it: install nullptr (on_lost) before destroying that object;
// on_lost(nullptr) returns only when no call of the old handler is running.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // Whether a device keeps carrying traffic while no wgnetd runs: true for kernel devices and for
  // external processes; false for the engine, whose devices wgnetd itself serves (after a
  // restart they are re-attached by adopt()).
  virtual bool devices_outlive_daemon() const = 0;

  // Creates link `ifname`, applies `config` completely and sets `mtu`. Returns the device's handle
  // (see DeviceRef). On failure nothing is left behind. Throws SystemError / InputError.
  virtual std::string create(const std::string& ifname, const DeviceConfig& config,
                             uint32_t mtu) = 0;
  // Re-applies the whole configuration and the MTU to an existing device (Join does this, so a
  // device is complete whatever happened before).
  virtual void configure(const DeviceRef& device, const DeviceConfig& config, uint32_t mtu) = 0;
  // Deletes the device and whatever serves it; a device that is already gone is not an error.
  // Only what `device` names (its handle) is stopped: never a process found by its name alone.
  virtual void remove(const DeviceRef& device) = 0;
  // Whether the device is there and served (wherever the backend can tell).
  virtual bool exists(const DeviceRef& device) = 0;
  virtual DeviceStatus status(const DeviceRef& device) = 0;
  // After a restart: takes over a device an earlier wgnetd made, so it is watched (and, for the
  // engine, served again: `config` is applied). `config` is unset when it cannot be computed now
  // (a seed file missing at boot). Returns false when the device cannot carry traffic any more
  // (what served it is gone); the caller then rebuilds it.
  virtual bool adopt(const DeviceRef& device, const std::optional<DeviceConfig>& config,
                     uint32_t mtu) = 0;
  // After a restart, once adopt() was called for the devices the state knows: a backend lets go
  // of what it still holds that no adopt() claimed (an engine taken over hands back every device
  // it served, also one whose endpoint is gone from the state), but only devices the state has
  // no row for (`in_state` false): one whose row reconcile left alone is left alone too.
  virtual void restored(const std::function<bool(const std::string& ifname)>& in_state) {
    (void)in_state;
  }

  // Called (from a backend thread) with the name of a device that died on its own, such as a
  // userspace WireGuard process that exited. Backends whose devices cannot die never call it.
  using LostHandler = std::function<void(const std::string& ifname)>;
  virtual void on_lost(LostHandler handler) { (void)handler; }
};

}  // namespace wgnet::wg
