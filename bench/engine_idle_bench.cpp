// wgnet_engine_idle_bench: what idle interfaces cost one engine process (as wgnetd's engine backend
// holds them): RSS and threads with 0 interfaces, then at each count of CHECKPOINTS, every
// interface a TUN device with a private key, one peer (endpoint, allowed IP) and its UDP socket,
// all in a private network namespace. Prints one "interfaces=N rss_kib=R threads=T" line per
// checkpoint for bench/engine_memory.sh. Root.
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "crypto/dh.h"
#include "crypto/x25519.h"
#include "engine/linux/engine.h"
#include "engine/linux/tun_linux.h"
#include "proc_self.h"
#include "util/ip.h"

using namespace wgnet;
using namespace wgnet::engine;

namespace {

void report(size_t n) {
  std::cout << "interfaces=" << n << " rss_kib=" << itest::rss_kib()
            << " threads=" << itest::thread_count() << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> checkpoints;
  for (int i = 1; i < argc; i++) checkpoints.push_back(std::stoul(argv[i]));
  if (checkpoints.empty()) checkpoints = {1, 100, 1000};
  if (::unshare(CLONE_NEWNET) != 0) {
    std::cerr << "needs root (unshare CLONE_NEWNET)\n";
    return 1;
  }
  rlimit fds{};
  ::getrlimit(RLIMIT_NOFILE, &fds);
  fds.rlim_cur = fds.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &fds);

  Engine engine;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  report(0);
  const auto peer = crypto::public_key(crypto::generate_private_key());
  size_t n = 0;
  for (size_t target : checkpoints) {
    for (; n < target; n++) {
      TunOptions o;
      o.name = "idle" + std::to_string(n);
      o.mtu = 1420;
      wg::DeviceConfig c;
      c.private_key = crypto::generate_private_key();
      wg::PeerConfig p;
      p.public_key = peer;
      p.endpoint = wg::Endpoint{*IpAddress::parse("198.18.99.1"), 51820};
      p.allowed_ips.push_back(Cidr(IpAddress::v4((10u << 24) | static_cast<uint32_t>(n)), 32));
      c.peers.push_back(p);
      AddOptions add;
      add.config = c;
      engine.add(o.name, TunLinux::create(o), std::move(add));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    report(n);
  }
  return 0;
}
