// In-memory stand-ins for what the driver reaches outside itself: the host (links, sandboxes,
// name resolution, path MTUs), the port publisher and a backend whose devices are map entries.
// Test code only.
#pragma once
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "driver/host.h"
#include "portmap/publisher.h"
#include "util/error.h"
#include "wg/backend.h"

namespace wgnet::testing {

struct FakeHost : driver::Host {
  std::mutex mutex;
  std::set<std::string> links;      // host namespace links (other than the backend's devices)
  std::set<std::string> sandboxes;  // existing sandbox paths
  std::map<std::string, std::string> names;  // DNS name -> address
  struct Placement {
    std::string ifname, sandbox;
    std::vector<std::string> addresses, routes;
  };
  std::vector<Placement> placements;
  std::function<void()> on_place;  // runs inside place_in_sandbox (tests block here)
  int resolves = 0;

  bool link_exists(const std::string& name) override {
    std::lock_guard lock(mutex);
    return links.count(name) > 0;
  }
  bool sandbox_exists(const std::string& sandbox) override {
    std::lock_guard lock(mutex);
    return sandboxes.count(sandbox) > 0;
  }
  std::string place_in_sandbox(const std::string& ifname, const std::string& sandbox,
                               const std::string& prefix, const std::vector<Cidr>& addresses,
                               const std::vector<Cidr>& routes) override {
    if (on_place) on_place();
    Placement p{ifname, sandbox, {}, {}};
    for (const auto& a : addresses) p.addresses.push_back(a.str());
    for (const auto& r : routes) p.routes.push_back(r.str());
    std::lock_guard lock(mutex);
    placements.push_back(p);
    return prefix + "0";
  }
  std::map<std::string, uint32_t> mtus;  // destination address -> path MTU (none: no route)
  std::optional<uint32_t> path_mtu(const IpAddress& destination) override {
    std::lock_guard lock(mutex);
    auto it = mtus.find(destination.str());
    if (it == mtus.end()) return std::nullopt;
    return it->second;
  }
  IpAddress resolve(const std::string& name, std::chrono::milliseconds,
                    std::string_view what) override {
    std::lock_guard lock(mutex);
    resolves++;
    if (auto a = IpAddress::parse(name)) return *a;
    auto it = names.find(name);
    if (it == names.end()) throw InputError(std::string(what) + ": cannot resolve '" + name + "'");
    return *IpAddress::parse(it->second);
  }
};

// What is published, per key; `fail` makes the next publish() throw (a port in use).
struct FakePublisher : portmap::Publisher {
  std::mutex mutex;
  struct Publication {
    portmap::Target target;
    std::vector<portmap::Binding> bindings;
  };
  std::map<std::string, Publication> published;
  int publishes = 0, unpublishes = 0;
  bool fail = false;

  void publish(const std::string& key, const portmap::Target& target,
               const std::vector<portmap::Binding>& bindings) override {
    std::lock_guard lock(mutex);
    if (fail) {
      fail = false;
      throw InputError("cannot publish " + portmap::describe(bindings.at(0)) +
                       ": address already in use");
    }
    publishes++;
    published[key] = {target, bindings};
  }
  void unpublish(const std::string& key) override {
    std::lock_guard lock(mutex);
    unpublishes++;
    published.erase(key);
  }
  bool has(const std::string& key) {
    std::lock_guard lock(mutex);
    return published.count(key) > 0;
  }
};

// A backend whose devices are entries of a map. Thread-safe; keeps the Backend contract that
// on_lost(nullptr) waits for a running handler.
struct MemoryBackend : wg::Backend {
  struct Device {
    wg::DeviceConfig config;
    uint32_t mtu = 0;
  };
  std::string backend_name = "external";
  bool outlives = true;
  std::mutex mutex;
  std::map<std::string, Device> devices;
  std::set<std::string> dead;  // devices whose server died: adopt() says false
  std::set<std::string> adopted;
  std::vector<wg::DeviceRef> removed;  // every remove() call, in order
  int creates = 0, configures = 0, removes = 0;

  std::string name() const override { return backend_name; }
  bool devices_outlive_daemon() const override { return outlives; }
  std::string create(const std::string& ifname, const wg::DeviceConfig& c, uint32_t mtu) override {
    std::lock_guard lock(mutex);
    if (devices.count(ifname)) throw SystemError("exists");
    devices[ifname] = {c, mtu};
    dead.erase(ifname);
    creates++;
    return "handle-" + std::to_string(creates);
  }
  void configure(const wg::DeviceRef& d, const wg::DeviceConfig& c, uint32_t mtu) override {
    std::lock_guard lock(mutex);
    devices.at(d.ifname) = {c, mtu};
    configures++;
  }
  void remove(const wg::DeviceRef& d) override {
    std::lock_guard lock(mutex);
    devices.erase(d.ifname);
    removed.push_back(d);
    removes++;
  }
  bool exists(const wg::DeviceRef& d) override {
    std::lock_guard lock(mutex);
    return devices.count(d.ifname) > 0 && !dead.count(d.ifname);
  }
  wg::DeviceStatus status(const wg::DeviceRef&) override { return {}; }
  bool adopt(const wg::DeviceRef& d, const std::optional<wg::DeviceConfig>&, uint32_t) override {
    std::lock_guard lock(mutex);
    adopted.insert(d.ifname);
    return devices.count(d.ifname) > 0 && !dead.count(d.ifname);
  }

  // The server of `ifname` dies: the device is gone and the handler is told, on this thread.
  void kill(const std::string& ifname) {
    LostHandler h;
    {
      std::lock_guard lock(mutex);
      devices.erase(ifname);
      if (!handler) return;
      h = handler;
      running = true;
    }
    h(ifname);
    {
      std::lock_guard lock(mutex);
      running = false;
    }
    done.notify_all();
  }
  void on_lost(LostHandler h) override {
    std::unique_lock lock(mutex);
    handler = std::move(h);
    if (!handler) done.wait(lock, [&] { return !running; });
  }
  bool has(const std::string& ifname) {
    std::lock_guard lock(mutex);
    return devices.count(ifname) > 0;
  }
  size_t count() {
    std::lock_guard lock(mutex);
    return devices.size();
  }

  LostHandler handler;
  bool running = false;
  std::condition_variable done;
};

}  // namespace wgnet::testing
