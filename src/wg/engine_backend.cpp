// Devices are named by their host-side wgnet name everywhere: the engine's key, the UAPI socket,
// the TUN's alias. Only the link's own name changes (Docker renames it wg0 in the container).
#include "wg/engine_backend.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "netlink/rtnl.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/log.h"
#include "util/netns.h"

namespace wgnet::wg {

namespace rtnl = netlink::rtnl;

EngineBackend::EngineBackend(Options options)
    : uapi_dir_(options.uapi_dir), tun_owner_(options.tun_owner) {
  engine::EngineOptions eo;
  eo.workers = options.workers;
  eo.uapi_dir = options.uapi_dir;
  if (options.test_timings) eo.device.timings = *options.test_timings;
  eo.on_lost = [this](const std::string& name, const std::string& why) {
    log::error("engine: device " + name + " is gone (" + why + ")");
    lost_.report(name);
  };
  engine_ = std::make_unique<engine::Engine>(std::move(eo));
}

EngineBackend::~EngineBackend() {
  // Stops the workers first: no lost() call can start once this returns.
  engine_->shutdown();
  engine_.reset();
}

bool EngineBackend::available(std::string* why) {
  Fd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (fd) return true;
  if (why) *why = std::string("cannot open /dev/net/tun: ") + std::strerror(errno);
  return false;
}

void EngineBackend::on_lost(LostHandler handler) { lost_.set(std::move(handler)); }

std::string EngineBackend::create(const std::string& ifname, const DeviceConfig& config,
                                  uint32_t mtu) {
  rtnl::check_ifname(ifname);
  if (rtnl::ifindex(ifname))
    throw SystemError("a network device named " + ifname + " already exists");
  auto tun = engine::TunLinux::create(engine_links::tun_options(ifname, mtu, tun_owner_));
  try {
    engine::AddOptions add;
    add.config = config;
    engine_->add(ifname, std::move(tun), std::move(add));
    return "port=" + std::to_string(engine_->status(ifname).listen_port);
  } catch (...) {
    // A persistent TUN stays when its descriptor closes: delete it, leave nothing behind.
    engine_->remove(ifname);
    engine_links::delete_link(ifname, "");
    throw;
  }
}

void EngineBackend::configure(const DeviceRef& device, const DeviceConfig& config, uint32_t mtu) {
  engine_->apply(device.ifname, config);
  engine_links::set_mtu(device.ifname, device.netns, mtu);
}

void EngineBackend::remove(const DeviceRef& device) {
  if (!engine_->remove(device.ifname) && !uapi_dir_.empty())
    // Not served since a restart (its container went while wgnetd was down): the UAPI socket the
    // killed wgnetd left.
    engine::UapiServer::remove_stale(uapi_dir_, device.ifname);
  // Docker moves the link back to the host before DeleteEndpoint; a recovery may find it still in
  // its container.
  engine_links::delete_link(device.ifname, "");
  if (!device.netns.empty()) engine_links::delete_link(device.ifname, device.netns);
}

bool EngineBackend::exists(const DeviceRef& device) {
  return engine_->contains(device.ifname) && !engine_->info(device.ifname).lost;
}

DeviceStatus EngineBackend::status(const DeviceRef& device) {
  return engine_->status(device.ifname);
}

bool EngineBackend::adopt(const DeviceRef& device, const std::optional<DeviceConfig>& config,
                          uint32_t mtu) {
  if (engine_->contains(device.ifname)) return !engine_->info(device.ifname).lost;
  if (!config) return false;  // nothing to serve it with (its seed is missing): not carried
  std::unique_ptr<engine::TunLinux> tun;
  // The device keeps its MTU (Docker may have changed nothing, but an operator may).
  auto attach = [&] { tun = engine_links::reattach(device.ifname, device.netns, tun_owner_); };
  try {
    attach();
  } catch (const std::exception& e) {
    log::warn("engine: re-attaching " + device.ifname + ": " + e.what());
    return false;
  }
  if (!tun) return false;
  DeviceConfig c = *config;
  if (!c.listen_port) c.listen_port = engine_links::port_of(device.handle);
  engine::AddOptions add;
  add.config = c;
  try {
    engine_->add(device.ifname, std::move(tun), std::move(add));
  } catch (const SystemError& e) {
    // The recorded port may be taken by now: any port will do, the peer learns the new one.
    log::warn("engine: " + device.ifname + ": " + e.what() + "; trying another port");
    c.listen_port.reset();
    engine::AddOptions again;
    again.config = c;
    try {
      attach();
    } catch (const std::exception&) {
      return false;
    }
    if (!tun) return false;
    engine_->add(device.ifname, std::move(tun), std::move(again));
  }
  (void)mtu;
  log::info("engine: re-attached " + device.ifname +
            (device.netns.empty() ? "" : " inside " + device.netns));
  return true;
}

}  // namespace wgnet::wg
