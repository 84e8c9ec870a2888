// Hub names (wgnet.endpoint, peers-file Endpoint) resolved once and refreshed in the background,
// so no libnetwork call waits on DNS after the network was created, and a name that stops
// resolving keeps its last address.
#pragma once
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "driver/host.h"
#include "driver/options.h"
#include "wgconf/config.h"

namespace wgnet::driver {

class HubResolver {
 public:
  struct Settings {
    std::chrono::milliseconds timeout{5000};  // one look-up
    std::chrono::milliseconds refresh{60000};  // how often known names are looked up again
  };
  HubResolver(Host& host, Settings settings);
  ~HubResolver();

  // Looks the name up now and remembers it (at CreateNetwork, where an unresolvable name refuses
  // the network). Throws InputError naming `what`.
  wg::Endpoint resolve_now(const HubEndpoint& e, std::string_view what);
  // The remembered address; looked up now (bounded by the timeout) when none is known yet, as
  // after a restart. Throws InputError naming `what` when there is none.
  wg::Endpoint current(const HubEndpoint& e, std::string_view what);

 private:
  void refresh_loop();

  Host& host_;
  Settings settings_;
  std::mutex mutex_;
  std::map<std::string, IpAddress> known_;  // DNS name -> last address
  std::map<std::string, bool> failing_;     // names whose last refresh failed (logged once)
  bool stopping_ = false;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace wgnet::driver
