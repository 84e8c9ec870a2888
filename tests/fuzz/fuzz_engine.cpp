// Fuzzes the engine's packet receive path (engine/device.h): two devices, A and B, joined by the
// in-memory network and TUNs of tests/unit/engine_fakes.h with a fake clock. Input is a list of
// steps: raw datagrams to B (from A's address or a stranger's), inner packets A encrypts to B
// (so they pass decryption and reach B's inner checks), A's datagrams damaged or replayed on
// their way, handshake messages with a valid mac1 (alone or as a flood), time passing, and UAPI
// "set" requests to B. Checks: B's TUN only ever gets whole IP packets from A's allowed IPs
// (cryptokey routing), and nothing crashes, leaks or hangs.
#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "engine/device.h"
#include "engine/ip_packet.h"
#include "engine_fakes.h"
#include "fuzz_util.h"
#include "util/log.h"

using namespace wgnet;
using namespace wgnet::engine;
using namespace wgnet::engine::testing;
using namespace std::chrono_literals;

namespace {

crypto::Key fixed_key(uint8_t fill) {
  std::array<uint8_t, 32> b;
  b.fill(fill);
  crypto::Key k(b);
  crypto::clamp(k);
  return k;
}

const wg::Endpoint kA{*IpAddress::parse("198.18.0.1"), 51820};
const wg::Endpoint kB{*IpAddress::parse("198.18.0.2"), 51821};
const wg::Endpoint kStranger{*IpAddress::parse("198.18.0.9"), 4444};

struct Pair {
  FakeClock clock;
  MemoryNetwork net;
  DeviceNode a{net, clock, *IpAddress::parse("198.18.0.1"), {}, fixed_key(0x11)};
  DeviceNode b{net, clock, *IpAddress::parse("198.18.0.2"), {}, fixed_key(0x22)};

  Pair() {
    // A routes everything to B; B takes only 10.0.0.1 and fd00::1 from A.
    a.dev.uapi_set("private_key=" + crypto::key_to_hex(a.priv) +
                   "\nlisten_port=51820\npublic_key=" + crypto::key_to_hex(b.pub) +
                   "\nendpoint=198.18.0.2:51821\nallowed_ip=0.0.0.0/0\nallowed_ip=::/0\n\n");
    b.dev.uapi_set("private_key=" + crypto::key_to_hex(b.priv) +
                   "\nlisten_port=51821\npublic_key=" + crypto::key_to_hex(a.pub) +
                   "\nallowed_ip=10.0.0.1/32\nallowed_ip=fd00::1/128\n\n");
    a.dev.up();
    b.dev.up();
  }

  void pump() {
    for (int i = 0; i < 64; i++) {
      bool moved = a.step();
      moved = b.step() || moved;
      if (!moved) return;
    }
  }

  // Every packet B hands its host is whole and comes from an address B allows A (UAPI steps may
  // change which).
  void check_b_tun() {
    std::vector<Cidr> allowed;
    for (const auto& peer : b.dev.status().peers)
      if (peer.public_key == a.pub) allowed = peer.allowed_ips;
    for (const auto& packet : b.tun.to_host) {
      auto h = inner_header(packet);
      FUZZ_CHECK(h && h->length == packet.size());
      const auto src = IpAddress::from_bytes(h->source);
      FUZZ_CHECK(std::any_of(allowed.begin(), allowed.end(),
                             [&](const Cidr& c) { return c.contains(src); }));
    }
    b.tun.to_host.clear();
    a.tun.to_host.clear();
  }
};

// Fits DeviceNode's 4 KiB buffers with headroom, and (as an inner packet) a transport header and
// tag.
constexpr size_t kMaxDatagram = 2048;

void deliver_to_b(Pair& p, const wg::Endpoint& from, std::span<const uint8_t> bytes) {
  if (bytes.size() > kMaxDatagram) return;
  if (auto* bind = p.b.bind())
    bind->inbox.push_back({NetEndpoint{from, kB.address, 0}, NetEndpoint{kB, {}, 0},
                           Bytes(bytes.begin(), bytes.end())});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_level(log::Level::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  Pair p;
  size_t budget = 512;  // handshake messages per input
  for (int steps = 0; !in.empty() && steps < 64; steps++) {
    const uint8_t op = in.u8();
    switch ((op & 0x0f) % 9) {  // the low bits choose the step, 0x80 and 0x40 vary it
      case 0:                   // a datagram from A's address
        deliver_to_b(p, kA, in.chunk());
        break;
      case 1:  // a datagram from elsewhere
        deliver_to_b(p, kStranger, in.chunk());
        break;
      case 2: {  // an inner packet A sends through the tunnel
        const auto b = in.chunk();
        if (b.size() <= kMaxDatagram) p.a.tun.from_host.emplace_back(b.begin(), b.end());
        break;
      }
      case 3: {  // one of A's datagrams, damaged or cut on its way, delivered again
        if (p.net.log.empty()) break;
        Bytes d = p.net.log[in.u8() % p.net.log.size()].bytes;
        const size_t at = in.u16();
        if (op & 0x80) {
          d.resize(std::min(d.size(), at));
        } else if (!d.empty()) {
          d[at % d.size()] ^= static_cast<uint8_t>(in.u8() | 1);
        }
        deliver_to_b(p, op & 0x40 ? kStranger : kA, d);
        break;
      }
      case 4:  // an earlier datagram replayed as it was
        if (!p.net.log.empty()) {
          const Bytes d = p.net.log[in.u8() % p.net.log.size()].bytes;
          deliver_to_b(p, kA, d);
        }
        break;
      case 5:  // time passes
        p.clock.advance(std::chrono::milliseconds(in.u16()) * 100);
        p.a.dev.run_timers();
        p.b.dev.run_timers();
        break;
      case 6: {  // a UAPI request to B (what `wg set` sends after "set=1\n")
        const auto b = in.chunk();
        p.b.dev.uapi_set(fuzz::as_text(b.data(), b.size()));
        const std::string get = p.b.dev.uapi_get();
        FUZZ_CHECK(get.size() >= 9 && get.compare(get.size() - 9, 9, "errno=0\n\n") == 0);
        break;
      }
      case 7:    // a handshake message with a valid mac1, so Noise itself reads it
      case 8: {  // the same as a flood of up to 255 copies: B is under load (cookies, rate limit)
        const auto b = in.chunk();
        const size_t copies = std::min<size_t>((op & 0x0f) % 9 == 8 ? in.u8() : 1, budget);
        budget -= copies;  // Noise costs DH operations: keep an input well inside -timeout
        Bytes msg(b.begin(), b.end());
        const bool initiation = msg.empty() || msg[0] % 2 == 1;
        msg.resize(initiation ? kInitiationSize : kResponseSize);
        msg[0] =
            static_cast<uint8_t>(initiation ? MessageType::kInitiation : MessageType::kResponse);
        CookieGenerator macs;
        macs.init(p.b.pub);
        macs.add_macs(msg, p.clock.now());
        for (size_t i = 0; i < copies; i++) deliver_to_b(p, op & 0x80 ? kStranger : kA, msg);
        break;
      }
    }
    p.pump();
    p.check_b_tun();
    if (p.net.log.size() > 4096) p.net.log.erase(p.net.log.begin(), p.net.log.begin() + 2048);
  }
  return 0;
}
