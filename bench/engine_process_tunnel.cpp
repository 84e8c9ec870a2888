// wgnet_engine_process_tunnel: one engine device as wgnetd serves it by default, for
// bench/engine_throughput.sh: the engine backend with the engine in its own sandboxed process
// (`wgnet-engine --supervised`: no capability, seccomp filter, uid 65534, chrooted), the TUN and
// UDP socket made here in the network namespace NETNS, and the device's UAPI socket in
// /var/run/wireguard served here and relayed to the engine, so `wg set IFNAME ...` configures it
// as any userspace device. Prints "ready engine_pid=N" once the device exists; removes it and ends
// when its standard input closes. Root.
// Usage: wgnet_engine_process_tunnel WGNET_ENGINE NETNS_PATH IFNAME
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "util/log.h"
#include "util/netns.h"
#include "wg/engine_process_backend.h"

using namespace wgnet;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: wgnet_engine_process_tunnel WGNET_ENGINE NETNS_PATH IFNAME\n";
    return 2;
  }
  const std::string program = argv[1], netns = argv[2], ifname = argv[3];
  log::set_level(log::Level::kWarn);
  try {
    char tmpl[] = "/tmp/wgnet-engine-root-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    const std::string root = tmpl;
    ::chmod(root.c_str(), 0555);
    std::unique_ptr<wg::EngineProcessBackend> backend;
    std::string handle;
    // Made in NETNS: its TUN, its UDP socket, and the engine's supervisor thread.
    netns::run_in(netns, [&] {
      wg::EngineProcessBackend::Options o;
      o.tun_owner = 65534;
      o.process.program = program;
      o.process.root = root;
      o.process.log_level = "error";
      backend = std::make_unique<wg::EngineProcessBackend>(std::move(o));
      handle = backend->create(ifname, wg::DeviceConfig{}, 1420);
    });
    std::cout << "ready engine_pid=" << backend->engine_pid() << std::endl;
    std::string ignored;
    while (std::getline(std::cin, ignored)) {
    }
    netns::run_in(netns, [&] {
      backend->remove({ifname, handle, ""});
      backend.reset();
    });
    std::filesystem::remove(root);
  } catch (const std::exception& e) {
    std::cerr << "wgnet_engine_process_tunnel: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
