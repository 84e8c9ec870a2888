// Numeric addresses never reach the resolver; names are refreshed on one background thread.
#include "driver/hub_resolver.h"

#include <vector>

#include "util/error.h"
#include "util/log.h"

namespace wgnet::driver {

HubResolver::HubResolver(Host& host, Settings settings)
    : host_(host), settings_(settings), thread_([this] { refresh_loop(); }) {}

HubResolver::~HubResolver() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

wg::Endpoint HubResolver::resolve_now(const HubEndpoint& e, std::string_view what) {
  if (auto a = IpAddress::parse(e.host)) return {*a, e.port};
  IpAddress a = host_.resolve(e.host, settings_.timeout, what);
  std::lock_guard lock(mutex_);
  known_[e.host] = a;
  return {a, e.port};
}

wg::Endpoint HubResolver::current(const HubEndpoint& e, std::string_view what) {
  if (auto a = IpAddress::parse(e.host)) return {*a, e.port};
  {
    std::lock_guard lock(mutex_);
    if (auto it = known_.find(e.host); it != known_.end()) return {it->second, e.port};
  }
  return resolve_now(e, what);
}

void HubResolver::refresh_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, settings_.refresh, [&] { return stopping_; });
    if (stopping_) return;
    std::vector<std::string> names;
    for (const auto& [name, addr] : known_) names.push_back(name);
    lock.unlock();
    for (const auto& name : names) {
      try {
        IpAddress a = host_.resolve(name, settings_.timeout, "hub");
        std::lock_guard relock(mutex_);
        if (auto it = known_.find(name); it != known_.end() && it->second != a)
          log::info("hub " + name + " now resolves to " + a.str());
        known_[name] = a;
        if (failing_.erase(name)) log::info("hub " + name + " resolves again");
      } catch (const std::exception& x) {
        std::lock_guard relock(mutex_);
        if (!failing_[name])
          log::warn(std::string(x.what()) + "; keeping its last address " + known_[name].str());
        failing_[name] = true;
      }
    }
    lock.lock();
  }
}

}  // namespace wgnet::driver
