// Per-packet costs of the engine's Linux I/O (TUN read/write, UDP send/receive) with and without
// offloads, and of the pure offload code, to compare with engine.md's table. The I/O figures are
// this thread's CPU time per packet (the "Time" column of the manual_time rows). Root: the process
// first moves into a private network namespace; every device it makes vanishes with it.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sched.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "engine/linux/offload.h"
#include "engine/linux/tun_linux.h"
#include "engine/linux/udp_linux.h"
#include "engine_io_relay.h"
#include "engine_io_test_util.h"

using namespace wgnet;
using namespace wgnet::engine;
using itest::Batch;
using itest::Netns;
namespace rtnl = wgnet::netlink::rtnl;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kBurst = 64;                   // packets per iteration
constexpr size_t kIpPacket = 1420;              // an IP packet at wg's default MTU
constexpr size_t kWgDatagram = kIpPacket + 32;  // the same packet encrypted: header and tag

using itest::ip;

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// This thread's CPU time (syscalls included), in seconds: on a shared machine a wall clock would
// also count the time others held the CPU.
double thread_cpu() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void put16(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

// IPv4/UDP 10.<net>.0.2:9001 -> 10.<net>.0.1:9000 of `size` bytes, checksums complete.
std::vector<uint8_t> udp_packet(size_t size, uint16_t id, uint8_t net) {
  std::vector<uint8_t> b(size);
  b[0] = 0x45;
  put16(b, 2, static_cast<uint32_t>(size));
  put16(b, 4, id);
  b[6] = 0x40;
  b[8] = 64;
  b[9] = 17;
  b[12] = 10, b[13] = net, b[15] = 2;
  b[16] = 10, b[17] = net, b[19] = 1;
  put16(b, 10, offload::checksum({b.data(), 20}));
  put16(b, 20, 9001);
  put16(b, 22, 9000);
  put16(b, 24, static_cast<uint32_t>(size - 20));
  for (size_t i = 28; i < size; i++) b[i] = static_cast<uint8_t>(i);
  uint64_t ph =
      offload::pseudo_header_sum({&b[12], 4}, {&b[16], 4}, 17, static_cast<uint32_t>(size - 20));
  put16(b, 26, offload::checksum({&b[20], size - 20}, ph));
  return b;
}

Fd udp_socket(const char* addr, uint16_t port, bool gro) {
  Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  int big = 64 << 20, one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  ::setsockopt(s.get(), SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
  if (gro) ::setsockopt(s.get(), SOL_UDP, UDP_GRO, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, addr, &a.sin_addr);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    throw SystemError("bind bench socket");
  return s;
}

void drain(int fd) {
  static uint8_t buf[65536];
  while (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }
}

std::unique_ptr<TunLinux> bench_tun(bool offloads) {
  TunOptions o;
  o.name = offloads ? "wgb1" : "wgb0";
  o.mtu = kIpPacket;
  o.offloads = offloads;
  auto t = TunLinux::create(o);
  if (!rtnl::find_link(o.name)->up) {
    rtnl::add_address(o.name, *Cidr::parse(offloads ? "10.90.0.1/24" : "10.91.0.1/24"));
    rtnl::set_up(o.name, true);
  }
  return t;
}

// ---- TUN write: packets into the kernel, delivered to a local UDP socket ----

void BM_TunWrite(benchmark::State& state) {
  bool offloads = state.range(0) != 0;
  // Each mode gets its own device and subnet: both exist at once in this namespace.
  auto tun = bench_tun(offloads);
  Fd sink = udp_socket(offloads ? "10.90.0.1" : "10.91.0.1", 9000, offloads);
  Batch batch(kBurst);
  std::vector<std::vector<uint8_t>> packets;
  for (size_t i = 0; i < kBurst; i++)
    packets.push_back(udp_packet(kIpPacket, static_cast<uint16_t>(i), offloads ? 90 : 91));
  for (auto _ : state) {
    for (size_t i = 0; i < kBurst; i++) batch.set(i, packets[i]);
    auto t0 = thread_cpu();
    tun->write(batch.packets());
    auto t1 = thread_cpu();
    state.SetIterationTime((t1 - t0));
    drain(sink.get());
  }
  auto s = tun->stats();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBurst));
  state.counters["syscalls/pkt"] =
      static_cast<double>(s.writes) / static_cast<double>(s.packets_written);
  state.counters["dropped"] = static_cast<double>(s.write_dropped);
}
BENCHMARK(BM_TunWrite)->Arg(0)->Arg(1)->ArgName("offloads")->UseManualTime();

// ---- TUN read: a local UDP sender routes through the TUN ----

void BM_TunRead(benchmark::State& state) {
  bool offloads = state.range(0) != 0;
  auto tun = bench_tun(offloads);
  if (offloads && !tun->features().uso) {
    state.SkipWithError("no TUN USO on this kernel");
    return;
  }
  Fd src = udp_socket(offloads ? "10.90.0.1" : "10.91.0.1", 9100, false);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(9000);
  inet_pton(AF_INET, offloads ? "10.90.0.2" : "10.91.0.2", &dst.sin_addr);
  std::vector<uint8_t> payload((kIpPacket - 28) * kBurst, 0x5a);
  int seg = static_cast<int>(kIpPacket - 28);
  if (offloads) ::setsockopt(src.get(), SOL_UDP, UDP_SEGMENT, &seg, sizeof seg);
  Batch batch(128);
  for (auto _ : state) {
    // The kernel side: one super-packet (USO) or 64 packets queued on the TUN.
    if (offloads) {
      // Two super-packets of 32: a UDP datagram holds at most 64 KiB.
      for (size_t half = 0; half < 2; half++)
        ::sendto(src.get(), payload.data(), payload.size() / 2, 0,
                 reinterpret_cast<sockaddr*>(&dst), sizeof dst);
    } else {
      for (size_t i = 0; i < kBurst; i++)
        ::sendto(src.get(), payload.data(), static_cast<size_t>(seg), 0,
                 reinterpret_cast<sockaddr*>(&dst), sizeof dst);
    }
    // The packets pass the device's qdisc first: wait for them outside the timed reads.
    size_t got = 0;
    double spent = 0;
    while (got < kBurst && itest::wait_readable(tun->fd(), 1000)) {
      auto t0 = thread_cpu();
      size_t n = tun->read(batch.reset());
      spent += (thread_cpu() - t0);
      for (size_t i = 0; i < n; i++)
        if (batch[i].size == kIpPacket) got++;  // not an IPv6 router solicitation
    }
    state.SetIterationTime(spent);
    if (got != kBurst) {
      state.SkipWithError("lost packets");
      break;
    }
  }
  auto s = tun->stats();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBurst));
  state.counters["syscalls/pkt"] =
      static_cast<double>(s.reads) / static_cast<double>(s.packets_read);
}
BENCHMARK(BM_TunRead)->Arg(0)->Arg(1)->ArgName("offloads")->UseManualTime();

// ---- UDP send and receive between two namespaces over a veth ----

struct VethPair {
  Netns a = Netns::create();
  Netns b = Netns::create();
  VethPair() {
    a.run([&] {
      rtnl::create_link("va", "veth");
      std::string peer;
      for (auto& l : rtnl::list_links())
        if (l.kind == "veth" && l.name != "va") peer = l.name;
      rtnl::move_link(peer, b.fd(), "vb");
      rtnl::add_address("va", *Cidr::parse("198.18.0.1/24"));
      rtnl::set_up("va", true);
    });
    b.run([&] {
      rtnl::add_address("vb", *Cidr::parse("198.18.0.2/24"));
      rtnl::set_up("vb", true);
    });
  }
};

VethPair& veth() {
  static VethPair pair;
  return pair;
}

void BM_UdpSend(benchmark::State& state) {
  bool offloads = state.range(0) != 0;
  UdpOptions o;
  o.gso = o.gro = offloads;
  auto tx = veth().a.run([&] { return UdpBindLinux::open(0, o); });
  auto rx = veth().b.run([&] { return UdpBindLinux::open(0, o); });
  Batch batch(kBurst), sink(128);
  std::vector<NetEndpoint> from(128);
  for (size_t i = 0; i < kBurst; i++) batch.set(i, std::vector<uint8_t>(kWgDatagram, 0x11));
  NetEndpoint to{wg::Endpoint{ip("198.18.0.2"), rx->port()}, ip("198.18.0.1"), 0};
  for (auto _ : state) {
    auto t0 = thread_cpu();
    tx->send(batch.packets(), to);
    auto t1 = thread_cpu();
    state.SetIterationTime((t1 - t0));
    while (rx->receive(sink.reset(), from) > 0) {
    }
  }
  auto s = tx->stats();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBurst));
  state.counters["dropped"] = static_cast<double>(s.tx_dropped);
}
BENCHMARK(BM_UdpSend)->Arg(0)->Arg(1)->ArgName("offloads")->UseManualTime();

void BM_UdpReceive(benchmark::State& state) {
  bool offloads = state.range(0) != 0;
  UdpOptions o;
  o.gso = o.gro = offloads;
  // The sender always segments, as a fast peer does; the receiver's GRO is what is measured.
  auto tx = veth().a.run([&] { return UdpBindLinux::open(0); });
  auto rx = veth().b.run([&] { return UdpBindLinux::open(0, o); });
  Batch batch(kBurst), sink(128);
  std::vector<NetEndpoint> from(128);
  for (size_t i = 0; i < kBurst; i++) batch.set(i, std::vector<uint8_t>(kWgDatagram, 0x22));
  NetEndpoint to{wg::Endpoint{ip("198.18.0.2"), rx->port()}, std::nullopt, 0};
  for (auto _ : state) {
    tx->send(batch.packets(), to);
    size_t got = 0;
    auto t0 = thread_cpu();
    while (got < kBurst) {
      size_t n = rx->receive(sink.reset(), from);
      if (n == 0) break;
      got += n;
    }
    auto t1 = thread_cpu();
    state.SetIterationTime((t1 - t0));
    if (got != kBurst) {
      state.SkipWithError("lost datagrams");
      break;
    }
  }
  auto s = rx->stats();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBurst));
  state.counters["syscalls/pkt"] =
      static_cast<double>(s.rx_syscalls) / static_cast<double>(s.rx_datagrams);
}
BENCHMARK(BM_UdpReceive)->Arg(0)->Arg(1)->ArgName("offloads")->UseManualTime();

// ---- a TCP stream between two namespaces through two TUNs and a relay (the engine minus crypto)
// ----

void BM_TunRelayTcp(benchmark::State& state) {
  bool offloads = state.range(0) != 0;
  itest::TunPair pair(offloads, offloads);
  constexpr size_t kBytes = 256 << 20;
  double packets = 0, cpu = 0, wall = 0;
  for (auto _ : state) {
    auto before = pair.ta->stats().packets_read + pair.tb->stats().packets_read;
    itest::Relay relay(*pair.ta, *pair.tb);
    auto t0 = Clock::now();
    auto r = itest::tcp_transfer(pair, false, kBytes);
    auto t1 = Clock::now();
    cpu += relay.stop();
    if (r.received != kBytes || !r.intact || !r.error.empty()) {
      state.SkipWithError(("transfer failed: " + r.error).c_str());
      break;
    }
    state.SetIterationTime(seconds(t0, t1));
    wall += seconds(t0, t1);
    packets +=
        static_cast<double>(pair.ta->stats().packets_read + pair.tb->stats().packets_read - before);
  }
  state.counters["Gbit/s"] = static_cast<double>(state.iterations()) * kBytes * 8 / wall / 1e9;
  state.counters["relay_ns/pkt"] = cpu / packets * 1e9;
}
BENCHMARK(BM_TunRelayTcp)->Arg(0)->Arg(1)->ArgName("offloads")->UseManualTime()->Iterations(3);

// ---- the pure offload code ----

void BM_Checksum(benchmark::State& state) {
  std::vector<uint8_t> b(static_cast<size_t>(state.range(0)), 0xa5);
  for (auto _ : state) benchmark::DoNotOptimize(offload::checksum(b));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * b.size()));
}
BENCHMARK(BM_Checksum)->Arg(1400)->Arg(65535);

void BM_GsoSplit(benchmark::State& state) {
  // A 64 KiB TCPv4 super-packet as the kernel hands it over, split into 1380-byte segments.
  std::vector<uint8_t> super(40 + 47 * 1380);
  super[0] = 0x45, super[6] = 0x40, super[8] = 64, super[9] = 6;
  super[12] = 10, super[15] = 1, super[16] = 10, super[19] = 2;
  super[32] = 0x50, super[33] = 0x10;
  offload::VirtioNetHdr h{offload::kFlagNeedsCsum, offload::kGsoTcpV4, 40, 1380, 20, 16};
  Batch in(1), out(64);
  for (auto _ : state) {
    in.set(0, super);
    auto r = offload::gso_split(h, in[0].bytes(), out.packets());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 47));
}
BENCHMARK(BM_GsoSplit);

void BM_Coalesce(benchmark::State& state) {
  // 47 segments of one TCP flow, as a peer's kernel sent them, coalesced into one write.
  std::vector<std::vector<uint8_t>> segs;
  for (uint32_t k = 0; k < 47; k++) {
    std::vector<uint8_t> b(40 + 1380);
    b[0] = 0x45, b[6] = 0x40, b[8] = 64, b[9] = 6;
    b[12] = 10, b[15] = 1, b[16] = 10, b[19] = 2;
    put16(b, 2, static_cast<uint32_t>(b.size()));
    put16(b, 10, offload::checksum({b.data(), 20}));
    uint32_t seq = 1000 + k * 1380;
    b[24] = static_cast<uint8_t>(seq >> 24), b[25] = static_cast<uint8_t>(seq >> 16);
    b[26] = static_cast<uint8_t>(seq >> 8), b[27] = static_cast<uint8_t>(seq);
    b[32] = 0x50, b[33] = 0x10;
    uint64_t ph = offload::pseudo_header_sum({&b[12], 4}, {&b[16], 4}, 6, 1400);
    put16(b, 36, offload::checksum({&b[20], 1400}, ph));
    segs.push_back(std::move(b));
  }
  Batch batch(47);
  std::vector<offload::TunWrite> writes(47);
  std::vector<uint32_t> next(47);
  for (auto _ : state) {
    for (size_t i = 0; i < 47; i++) batch.set(i, segs[i]);
    size_t n = offload::coalesce(batch.packets(), {}, writes, next);
    if (n != 1) state.SkipWithError("not coalesced");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 47));
}
BENCHMARK(BM_Coalesce);

}  // namespace

int main(int argc, char** argv) {
  if (::unshare(CLONE_NEWNET) != 0) {
    std::perror("unshare(CLONE_NEWNET) (needs root)");
    return 1;
  }
  rtnl::set_up("lo", true);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
