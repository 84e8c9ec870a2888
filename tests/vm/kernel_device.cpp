// wgnet_vm_kernel_device: a kernel WireGuard device made and read by wgnet's own kernel backend
// (rtnetlink + the wireguard generic netlink codec), for the interop tests (tests/vm/interop.sh):
// the device on one side of a tunnel is then configured exactly as wgnetd configures its devices.
//
//   wgnet_vm_kernel_device up IFNAME PRIVATE_KEY_FILE LISTEN_PORT PEER_PUBLIC_KEY ALLOWED_IPS
//                             ENDPOINT|- KEEPALIVE
//       creates IFNAME in the current network namespace with one peer (ALLOWED_IPS separated by
//       commas; "-": no endpoint, so this side cannot start a handshake), MTU 1420
//   wgnet_vm_kernel_device show IFNAME
//       what the kernel reports, read through wgnet's decoder: "public_key PORT" then one line a
//       peer: "peer KEY ENDPOINT|- LAST_HANDSHAKE_SEC RX_BYTES TX_BYTES ALLOWED_IPS"
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "crypto/encoding.h"
#include "netlink/wireguard.h"
#include "util/error.h"
#include "wg/kernel.h"

using namespace wgnet;

namespace {

int usage() {
  std::cerr << "usage: wgnet_vm_kernel_device up IFNAME PRIVATE_KEY_FILE LISTEN_PORT "
               "PEER_PUBLIC_KEY ALLOWED_IPS ENDPOINT|- KEEPALIVE\n"
               "       wgnet_vm_kernel_device show IFNAME\n";
  return 2;
}

int up(char** argv) {
  std::string ifname = argv[0];
  std::ifstream key_file(argv[1]);
  std::string key_text;
  if (!(key_file >> key_text)) throw InputError(std::string("cannot read a key from ") + argv[1]);
  wg::DeviceConfig config;
  config.private_key = crypto::key_from_base64(key_text, "private key");
  config.listen_port = static_cast<uint16_t>(std::stoul(argv[2]));
  wg::PeerConfig peer;
  peer.public_key = crypto::key_from_base64(argv[3], "peer public key");
  std::stringstream allowed(argv[4]);
  for (std::string item; std::getline(allowed, item, ',');) {
    auto cidr = Cidr::parse(item);
    if (!cidr) throw InputError("not a prefix: " + item);
    peer.allowed_ips.push_back(*cidr);
  }
  if (std::string(argv[5]) != "-") {
    peer.endpoint = wg::Endpoint::parse(argv[5]);
    if (!peer.endpoint) throw InputError(std::string("not an endpoint: ") + argv[5]);
  }
  peer.persistent_keepalive = static_cast<uint16_t>(std::stoul(argv[6]));
  config.peers.push_back(peer);
  wg::KernelBackend().create(ifname, config, 1420);
  return 0;
}

int show(const std::string& ifname) {
  auto family = netlink::wireguard::open_family("read " + ifname);
  auto request = netlink::wireguard::encode_get_device(ifname, family.id);
  auto dump = family.socket.dump(request, "read " + ifname);
  wg::DeviceStatus s = netlink::wireguard::decode_get_device(dump);
  std::cout << (s.public_key ? crypto::key_to_base64(*s.public_key) : "(none)") << ' '
            << s.listen_port << '\n';
  for (const auto& p : s.peers) {
    std::cout << "peer " << crypto::key_to_base64(p.public_key) << ' '
              << (p.endpoint ? p.endpoint->str() : "-") << ' ' << p.last_handshake_sec << ' '
              << p.rx_bytes << ' ' << p.tx_bytes << ' ';
    for (size_t i = 0; i < p.allowed_ips.size(); ++i)
      std::cout << (i ? "," : "") << p.allowed_ips[i].str();
    std::cout << '\n';
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "up" && argc == 9) return up(argv + 2);
    if (cmd == "show" && argc == 3) return show(argv[2]);
    return usage();
  } catch (const std::exception& e) {
    std::cerr << "wgnet_vm_kernel_device: " << e.what() << '\n';
    return 1;
  }
}
