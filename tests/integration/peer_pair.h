// What the tests of a sandboxed engine ping (engine_supervised_test, wg_engine_process_test): two
// network namespaces joined by a veth (va 198.18.N.1/24 in a, vb 198.18.N.2/24 in b), and wgnet's
// engine, in this process, serving "wgp0" (10.N.0.2/24, port 51800 + N) in b, whose only peer is
// a's key at 10.N.0.1. Each test file takes its own N, so they may run at once. Root.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "crypto/dh.h"
#include "crypto/x25519.h"
#include "engine/linux/engine.h"
#include "engine/linux/tun_linux.h"
#include "engine_io_test_util.h"
#include "netlink/rtnl.h"

namespace wgnet::itest {

// A TUN device of MTU 1420 in the calling thread's namespace, with `address`, up.
inline std::unique_ptr<engine::TunLinux> tun_with_address(const std::string& name,
                                                          const std::string& address) {
  engine::TunOptions t;
  t.name = name;
  t.mtu = 1420;
  auto tun = engine::TunLinux::create(t);
  netlink::rtnl::add_address(name, *Cidr::parse(address));
  netlink::rtnl::set_up(name, true);
  return tun;
}

class PeerPair {
 public:
  explicit PeerPair(int n)
      : n_(n),
        a(std::make_unique<Netns>(Netns::create())),
        b(std::make_unique<Netns>(Netns::create())),
        key_a(crypto::generate_private_key()),
        key_b(crypto::generate_private_key()) {
    namespace rtnl = netlink::rtnl;
    veth_between(*a, "va", *b, "vb");
    a->run([&] {
      rtnl::add_address("va", *Cidr::parse(underlay(1) + "/24"));
      rtnl::set_up("va", true);
    });
    b->run([&] {
      rtnl::add_address("vb", *Cidr::parse(underlay(2) + "/24"));
      rtnl::set_up("vb", true);
      peer = std::make_unique<engine::Engine>(engine::EngineOptions{});
      auto tun = tun_with_address("wgp0", tunnel(2) + "/24");
      wg::DeviceConfig c;
      c.private_key = key_b;
      c.listen_port = peer_port();
      wg::PeerConfig p;
      p.public_key = crypto::public_key(key_a);
      p.allowed_ips = {*Cidr::parse(tunnel(1) + "/32")};
      c.peers.push_back(p);
      engine::AddOptions o;
      o.config = c;
      o.uapi = false;
      peer->add("wgp0", std::move(tun), std::move(o));
    });
  }
  ~PeerPair() {
    if (peer) peer->shutdown();
  }
  PeerPair(const PeerPair&) = delete;
  PeerPair& operator=(const PeerPair&) = delete;

  std::string underlay(int host) const {
    return "198.18." + std::to_string(n_) + "." + std::to_string(host);
  }
  std::string tunnel(int host) const {
    return "10." + std::to_string(n_) + ".0." + std::to_string(host);
  }
  uint16_t peer_port() const { return static_cast<uint16_t>(51800 + n_); }
  // The configuration of a's device: key_a, the peer in b.
  wg::DeviceConfig config_a() const {
    wg::DeviceConfig c;
    c.private_key = key_a;
    wg::PeerConfig p;
    p.public_key = crypto::public_key(key_b);
    p.endpoint = wg::Endpoint{*IpAddress::parse(underlay(2)), peer_port()};
    p.allowed_ips = {*Cidr::parse(tunnel(2) + "/32")};
    c.peers.push_back(p);
    return c;
  }
  // ping (with `options`) from a to the peer's tunnel address: whether it was answered.
  bool ping(const std::string& options = "-c 2 -i 0.2 -W 2") const {
    int rc = -1;
    a->run([&] {
      rc = std::system(("ping " + options + " -q " + tunnel(2) + " >/dev/null 2>&1").c_str());
    });
    return rc == 0;
  }

 private:
  int n_;

 public:
  std::unique_ptr<Netns> a, b;
  crypto::Key key_a, key_b;
  std::unique_ptr<engine::Engine> peer;  // in b
};

}  // namespace wgnet::itest
