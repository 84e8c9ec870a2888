// wgnet_engine_handshake_load: handshake initiations against a WireGuard responder (the engine or
// wireguard-go), built with the engine's own Noise and cookie code. Two uses:
//   gen N KEYS PEERS      writes N initiator private keys (hex, one a line) to KEYS and the
//                         responder's [Peer] sections (wg setconf format) to PEERS;
//   run ...               sends pre-made initiations from those keys with a bounded window and
//                         counts the responses: handshakes per second completed by the responder
//                         (bench/engine_handshakes.sh);
//   flood ...             sends initiations from keys the responder does not know as fast as it
//                         can, never answering cookies, and counts the cookie replies it gets
//                         (the handshake-flood test).
// Test and benchmark code: it prints key=value lines for the scripts.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "crypto/dh.h"
#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "engine/cookie.h"
#include "engine/messages.h"
#include "engine/noise.h"
#include "engine/tai64n.h"
#include "util/error.h"
#include "util/fd.h"
#include "wgconf/config.h"

using namespace wgnet;
using namespace wgnet::engine;
using Steady = std::chrono::steady_clock;

namespace {

struct Args {
  std::string keys, target, bind, responder;
  double seconds = 5;
  size_t window = 32;
  size_t count = 20000;
  double rate = 0;  // flood: datagrams per second, 0 = as fast as possible
};

[[noreturn]] void usage() {
  std::cerr << "usage: wgnet_engine_handshake_load gen N KEYS PEERS\n"
               "       wgnet_engine_handshake_load run|flood --target IP:PORT --responder PUBKEY\n"
               "           [--keys FILE] [--bind IP] [--seconds S] [--window W] [--count N]\n"
               "           [--rate PPS]\n";
  std::exit(2);
}

crypto::Key parse_key(const std::string& text) {
  return text.size() == 64 ? crypto::key_from_hex(text, "key")
                           : crypto::key_from_base64(text, "key");
}

Fd open_socket(const Args& a, const wg::Endpoint& to) {
  const bool v4 = to.address.is_v4();
  Fd fd(::socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  int size = 8 << 20;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
  auto fill = [&](const IpAddress& ip, uint16_t port, sockaddr_storage& ss) -> socklen_t {
    ss = {};
    if (v4) {
      auto* s = reinterpret_cast<sockaddr_in*>(&ss);
      s->sin_family = AF_INET;
      s->sin_port = htons(port);
      std::memcpy(&s->sin_addr, ip.bytes().data(), 4);
      return sizeof *s;
    }
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    std::memcpy(&s->sin6_addr, ip.bytes().data(), 16);
    return sizeof *s;
  };
  sockaddr_storage ss;
  if (!a.bind.empty()) {
    auto ip = IpAddress::parse(a.bind);
    if (!ip) throw InputError("bad --bind");
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), fill(*ip, 0, ss)) != 0)
      throw SystemError("bind: " + std::string(std::strerror(errno)));
  }
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), fill(to.address, to.port, ss)) != 0)
    throw SystemError("connect: " + std::string(std::strerror(errno)));
  return fd;
}

// One initiator: its identity, the responder's key and the cookie state for mac2.
struct Initiator {
  noise::StaticIdentity id;
  noise::Handshake hs;
  std::unique_ptr<CookieGenerator> cookies = std::make_unique<CookieGenerator>();
};

Initiator make_initiator(const crypto::Key& priv, const crypto::Key& responder) {
  Initiator in;
  in.id.private_key = priv;
  in.id.public_key = crypto::public_key(priv);
  in.id.has_key = true;
  in.hs.remote_static = responder;
  if (!crypto::x25519(in.hs.precomputed_ss, priv, responder)) throw InputError("bad key");
  in.cookies->init(responder);
  return in;
}

// Initiations made ahead (the expensive part), so sending them costs the generator little:
// message k belongs to initiator k % n, its timestamps grow by 20 ms per round (tai64n rounds to
// 16.8 ms; the responder wants them strictly growing).
std::vector<MessageInitiation> premake(std::vector<Initiator>& ins, size_t count) {
  std::vector<MessageInitiation> out(count);
  const auto wall0 = std::chrono::system_clock::now();
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; t++)
    pool.emplace_back([&, t] {
      for (size_t k = t; k < count; k += threads) {
        Initiator& in = ins[k % ins.size()];
        noise::Handshake hs = in.hs;  // a copy: the initiators' states are not shared
        const auto round = static_cast<int>(k / ins.size());
        if (!noise::create_initiation(hs, in.id,
                                      tai64n(wall0 + round * std::chrono::milliseconds(20)),
                                      static_cast<uint32_t>(k + 1), out[k]))
          throw SystemError("create_initiation failed");
      }
    });
  for (auto& th : pool) th.join();
  return out;
}

std::vector<crypto::Key> read_keys(const std::string& path) {
  std::ifstream in(path);
  std::vector<crypto::Key> keys;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) keys.push_back(parse_key(line));
  if (keys.empty()) throw InputError("no keys in " + path);
  return keys;
}

int gen(size_t n, const std::string& keys_path, const std::string& peers_path) {
  std::ofstream keys(keys_path), peers(peers_path);
  for (size_t i = 0; i < n; i++) {
    const auto priv = crypto::generate_private_key();
    keys << crypto::key_to_hex(priv) << "\n";
    peers << "[Peer]\nPublicKey = " << crypto::key_to_base64(crypto::public_key(priv))
          << "\nAllowedIPs = 10." << (128 + i / 65536) << "." << (i / 256 % 256) << "." << (i % 256)
          << "/32\n\n";
  }
  return keys && peers ? 0 : 1;
}

int run(const Args& a, bool flood) {
  const auto target = wg::Endpoint::parse(a.target);
  if (!target || a.responder.empty()) usage();
  const auto responder = parse_key(a.responder);
  std::vector<Initiator> ins;
  if (flood) {
    for (int i = 0; i < 64; i++)
      ins.push_back(make_initiator(crypto::generate_private_key(), responder));
  } else {
    for (const auto& k : read_keys(a.keys)) ins.push_back(make_initiator(k, responder));
  }
  auto messages = premake(ins, flood ? 4096 : a.count);
  Fd fd = open_socket(a, *target);

  uint64_t sent = 0, responses = 0, cookies = 0, timeouts = 0;
  struct Outstanding {
    size_t k;
    Steady::time_point at;
  };
  std::unordered_map<uint32_t, Outstanding> outstanding;  // by sender index
  std::deque<size_t> retry;                               // messages to send again (mac2)
  std::vector<Steady::time_point> last_sent(ins.size());
  size_t next = 0;
  const auto start = Steady::now();
  const auto end = start + std::chrono::duration_cast<Steady::duration>(
                               std::chrono::duration<double>(a.seconds));
  auto send_message = [&](size_t k, Steady::time_point now) {
    MessageInitiation& m = messages[k];
    ins[k % ins.size()].cookies->add_macs(bytes_of(m), now);
    if (::send(fd.get(), &m, sizeof m, 0) == static_cast<ssize_t>(sizeof m)) sent++;
    last_sent[k % ins.size()] = now;
  };
  uint8_t buf[2048];
  while (Steady::now() < end) {
    auto now = Steady::now();
    if (flood) {
      // As fast as the socket takes them (or at --rate), cookies never answered.
      const double elapsed = std::chrono::duration<double>(now - start).count();
      for (int burst = 0; burst < 64 && (a.rate <= 0 || sent < elapsed * a.rate); burst++)
        send_message(next++ % messages.size(), now);
    } else {
      while (outstanding.size() < a.window && (!retry.empty() || next < messages.size())) {
        const size_t k = retry.empty() ? next : retry.front();
        // The responder takes one initiation per peer per 20 ms.
        if (retry.empty() && now - last_sent[k % ins.size()] < std::chrono::milliseconds(25)) break;
        if (retry.empty())
          next++;
        else
          retry.pop_front();
        send_message(k, now);
        outstanding[static_cast<uint32_t>(k + 1)] = {k, now};
      }
      for (auto it = outstanding.begin(); it != outstanding.end();) {
        if (now - it->second.at > std::chrono::seconds(1)) {
          timeouts++;
          it = outstanding.erase(it);
        } else {
          ++it;
        }
      }
      if (next >= messages.size() && outstanding.empty() && retry.empty()) break;
    }
    pollfd p{fd.get(), POLLIN, 0};
    ::poll(&p, 1, flood ? 0 : 1);
    for (;;) {
      ssize_t r = ::recv(fd.get(), buf, sizeof buf, 0);
      if (r <= 0) break;
      const auto d = std::span<const uint8_t>(buf, static_cast<size_t>(r));
      if (d.size() == kResponseSize && d[0] == 2) {
        responses++;
        outstanding.erase(load_le32(d.data() + 8));  // receiver = our sender index
      } else if (d.size() == kCookieReplySize && d[0] == 3) {
        cookies++;
        if (flood) continue;
        const uint32_t index = load_le32(d.data() + 4);
        auto it = outstanding.find(index);
        if (it == outstanding.end()) continue;
        const size_t k = it->second.k;
        ins[k % ins.size()].cookies->consume_reply(message_from<MessageCookieReply>(d),
                                                   Steady::now());
        outstanding.erase(it);
        retry.push_back(k);  // again, with mac2
      }
    }
  }
  const double secs = std::chrono::duration<double>(Steady::now() - start).count();
  std::cout << "sent=" << sent << "\nresponses=" << responses << "\ncookie_replies=" << cookies
            << "\ntimeouts=" << timeouts << "\nseconds=" << secs
            << "\nhandshakes_per_second=" << static_cast<double>(responses) / secs << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) usage();
    const std::string cmd = argv[1];
    if (cmd == "gen") {
      if (argc != 5) usage();
      return gen(std::stoul(argv[2]), argv[3], argv[4]);
    }
    if (cmd != "run" && cmd != "flood") usage();
    Args a;
    for (int i = 2; i + 1 < argc; i += 2) {
      const std::string k = argv[i], v = argv[i + 1];
      if (k == "--keys")
        a.keys = v;
      else if (k == "--target")
        a.target = v;
      else if (k == "--bind")
        a.bind = v;
      else if (k == "--responder")
        a.responder = v;
      else if (k == "--seconds")
        a.seconds = std::stod(v);
      else if (k == "--window")
        a.window = std::stoul(v);
      else if (k == "--count")
        a.count = std::stoul(v);
      else if (k == "--rate")
        a.rate = std::stod(v);
      else
        usage();
    }
    if (argc % 2 != 0) usage();
    return run(a, cmd == "flood");
  } catch (const std::exception& e) {
    std::cerr << "wgnet_engine_handshake_load: " << e.what() << "\n";
    return 1;
  }
}
