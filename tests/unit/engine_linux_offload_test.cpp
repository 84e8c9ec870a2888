// Unit tests of engine/offload: checksums against known values and a plain reference, GSO split
// and coalescing as tables of cases, their round trip, and damaged input that must be refused.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/linux/offload.h"

using namespace wgnet::engine;
using namespace wgnet::engine::offload;

namespace {

// ---- packets built by hand, with an independent (slow, obvious) checksum ----

uint16_t ref_checksum(const std::vector<uint8_t>& b, size_t from, size_t to, uint64_t sum = 0) {
  for (size_t i = from; i < to; i += 2) {
    uint64_t w = uint64_t{b[i]} << 8;
    if (i + 1 < to) w |= b[i + 1];
    sum += w;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void put16(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}
void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  put16(b, at, v >> 16);
  put16(b, at + 2, v & 0xffff);
}
uint16_t get16(const uint8_t* b) { return static_cast<uint16_t>(b[0] << 8 | b[1]); }

constexpr uint8_t kAck = 0x10, kPsh = 0x08, kFin = 0x01, kSyn = 0x02, kCwr = 0x80;

struct Spec {
  bool v6 = false;
  uint8_t proto = kProtoTcp;
  size_t payload = 100;
  uint32_t seq = 1000;
  uint32_t ack = 555;
  uint8_t flags = kAck;
  uint16_t window = 512;
  uint16_t id = 7;
  bool df = true;
  uint8_t tos = 0;
  uint8_t ttl = 64;
  uint16_t sport = 40000, dport = 5201;
  uint8_t src_last = 1;  // last byte of the source address: another flow
  std::vector<uint8_t> tcp_options;
  uint8_t fill = 0;  // payload byte i is fill + seq + i: contents follow the sequence
};

// The transport sum as a sender computes it: pseudo-header + segment.
uint16_t transport_checksum(const std::vector<uint8_t>& b, size_t iph, bool v6, uint8_t proto) {
  std::vector<uint8_t> ph;
  size_t addr = v6 ? 8 : 12, alen = v6 ? 32 : 8;
  ph.insert(ph.end(), b.begin() + static_cast<long>(addr),
            b.begin() + static_cast<long>(addr + alen));
  uint32_t tlen = static_cast<uint32_t>(b.size() - iph);
  ph.push_back(0);
  ph.push_back(proto);
  ph.push_back(static_cast<uint8_t>(tlen >> 8));
  ph.push_back(static_cast<uint8_t>(tlen));
  uint32_t sum = static_cast<uint16_t>(~ref_checksum(ph, 0, ph.size()));
  return ref_checksum(b, iph, b.size(), sum);
}

std::vector<uint8_t> make(const Spec& s) {
  size_t iph = s.v6 ? 40 : 20;
  size_t th = s.proto == kProtoTcp ? 20 + s.tcp_options.size() : 8;
  std::vector<uint8_t> b(iph + th + s.payload);
  if (s.v6) {
    b[0] = 0x60 | (s.tos >> 4);
    b[1] = static_cast<uint8_t>(s.tos << 4);
    put16(b, 4, static_cast<uint32_t>(b.size() - 40));
    b[6] = s.proto;
    b[7] = s.ttl;
    b[8] = 0xfd;
    b[23] = s.src_last;
    b[24] = 0xfd;
    b[39] = 2;
  } else {
    b[0] = 0x45;
    b[1] = s.tos;
    put16(b, 2, static_cast<uint32_t>(b.size()));
    put16(b, 4, s.id);
    b[6] = s.df ? 0x40 : 0;
    b[8] = s.ttl;
    b[9] = s.proto;
    b[12] = 10;
    b[15] = s.src_last;
    b[16] = 10;
    b[19] = 2;
    put16(b, 10, ref_checksum(b, 0, 20));
  }
  put16(b, iph, s.sport);
  put16(b, iph + 2, s.dport);
  if (s.proto == kProtoTcp) {
    put32(b, iph + 4, s.seq);
    put32(b, iph + 8, s.ack);
    b[iph + 12] = static_cast<uint8_t>((th / 4) << 4);
    b[iph + 13] = s.flags;
    put16(b, iph + 14, s.window);
    std::copy(s.tcp_options.begin(), s.tcp_options.end(), b.begin() + static_cast<long>(iph + 20));
  } else {
    put16(b, iph + 4, static_cast<uint32_t>(b.size() - iph));
  }
  for (size_t i = 0; i < s.payload; i++) b[iph + th + i] = static_cast<uint8_t>(s.fill + s.seq + i);
  size_t at = iph + (s.proto == kProtoTcp ? 16 : 6);
  uint16_t c = transport_checksum(b, iph, s.v6, s.proto);
  put16(b, at, s.proto == kProtoUdp && c == 0 ? 0xffff : c);
  return b;
}

bool valid_checksums(const std::vector<uint8_t>& b) {
  bool v6 = (b[0] >> 4) == 6;
  size_t iph = v6 ? 40 : size_t{b[0] & 15u} * 4;
  if (!v6 && ref_checksum(b, 0, iph) != 0) return false;
  return transport_checksum(b, iph, v6, v6 ? b[6] : b[9]) == 0;
}

// Buffers of the engine's size, owned by the test, handed out as Packets.
class Buffers {
 public:
  Packet add(const std::vector<uint8_t>& bytes, size_t capacity = kBufferSize) {
    store_.emplace_back(capacity);
    Packet p{store_.back().data(), static_cast<uint32_t>(capacity), kHeadroom,
             static_cast<uint32_t>(bytes.size())};
    std::copy(bytes.begin(), bytes.end(), p.base + p.offset);
    return p;
  }
  std::vector<Packet> empty(size_t n, size_t capacity = kBufferSize) {
    std::vector<Packet> out;
    for (size_t i = 0; i < n; i++) out.push_back(add({}, capacity));
    return out;
  }

 private:
  std::vector<std::vector<uint8_t>> store_;
};

std::vector<uint8_t> bytes_of(const Packet& p) {
  return {p.base + p.offset, p.base + p.offset + p.size};
}

// What a TUN write of `w` carries after its virtio-net header: write_pieces, concatenated.
std::vector<uint8_t> written(std::span<const Packet> packets, std::span<const uint32_t> next,
                             const TunWrite& w) {
  iovec iov[kMaxCoalesceSegments];
  size_t n = write_pieces(packets, next, w, iov);
  EXPECT_EQ(n, w.count);
  std::vector<uint8_t> out;
  for (size_t i = 0; i < n; i++) {
    auto* b = static_cast<const uint8_t*>(iov[i].iov_base);
    out.insert(out.end(), b, b + iov[i].iov_len);
  }
  return out;
}

// A super-packet as the kernel hands it over with TSO/USO: one header, the whole payload, the
// transport checksum field holding the pseudo-header sum.
struct Super {
  VirtioNetHdr hdr;
  std::vector<uint8_t> bytes;
};

Super make_super(Spec s, size_t gso_size) {
  Super out;
  out.bytes = make(s);
  size_t iph = s.v6 ? 40 : 20;
  size_t th = s.proto == kProtoTcp ? 20 + s.tcp_options.size() : 8;
  bool tcp = s.proto == kProtoTcp;
  out.hdr.flags = kFlagNeedsCsum;
  out.hdr.gso_type = tcp ? (s.v6 ? kGsoTcpV6 : kGsoTcpV4) : kGsoUdpL4;
  out.hdr.gso_size = static_cast<uint16_t>(gso_size);
  out.hdr.hdr_len = static_cast<uint16_t>(iph + th);
  out.hdr.csum_start = static_cast<uint16_t>(iph);
  out.hdr.csum_offset = tcp ? 16 : 6;
  return out;
}

// The segments a sender would have produced: what split must give.
std::vector<std::vector<uint8_t>> expected_segments(Spec s, size_t gso_size) {
  std::vector<std::vector<uint8_t>> segs;
  size_t left = s.payload;
  uint8_t flags = s.flags;
  for (size_t k = 0; left > 0 || k == 0; k++) {
    Spec seg = s;
    seg.payload = std::min(gso_size, left);
    seg.seq = s.seq + static_cast<uint32_t>(k * gso_size);
    seg.fill = s.fill;
    seg.id = static_cast<uint16_t>(s.id + k);
    left -= seg.payload;
    seg.flags = flags;
    if (left > 0) seg.flags &= static_cast<uint8_t>(~(kPsh | kFin));
    if (k > 0) seg.flags &= static_cast<uint8_t>(~kCwr);
    segs.push_back(make(seg));
    if (left == 0) break;
  }
  return segs;
}

}  // namespace

// ---- checksums ----

TEST(OffloadChecksum, KnownValues) {
  // RFC 1071's example words, and a well-known IPv4 header (checksum 0xb861).
  std::vector<uint8_t> rfc = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(checksum_fold(checksum_add(rfc)), 0xddf2);
  EXPECT_EQ(checksum(rfc), 0x220d);
  std::vector<uint8_t> ip = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                             0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(checksum(ip), 0xb861);
  ip[10] = 0xb8;
  ip[11] = 0x61;
  EXPECT_EQ(checksum(ip), 0);
  EXPECT_EQ(checksum({}), 0xffff);
}

TEST(OffloadChecksum, MatchesPlainReferenceForEveryLengthAndAlignment) {
  std::mt19937 rng(7);
  std::vector<uint8_t> data(300);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  for (size_t from = 0; from < 9; from++)
    for (size_t len = 0; from + len <= data.size(); len++) {
      std::vector<uint8_t> piece(data.begin() + static_cast<long>(from),
                                 data.begin() + static_cast<long>(from + len));
      ASSERT_EQ(checksum({data.data() + from, len}), ref_checksum(piece, 0, piece.size()))
          << "from " << from << " len " << len;
    }
  // Past the vector loop's 1 MiB blocks, at an odd start.
  std::vector<uint8_t> big(3 << 20);
  for (auto& b : big) b = static_cast<uint8_t>(rng());
  std::vector<uint8_t> tail(big.begin() + 1, big.end());
  EXPECT_EQ(checksum({big.data() + 1, big.size() - 1}), ref_checksum(tail, 0, tail.size()));
  // All ones: the folding carries must not lose anything.
  std::vector<uint8_t> ones(65535, 0xff);
  EXPECT_EQ(checksum(ones), ref_checksum(ones, 0, ones.size()));
}

TEST(OffloadChecksum, PseudoHeader) {
  for (bool v6 : {false, true})
    for (uint8_t proto : {kProtoTcp, kProtoUdp}) {
      Spec s;
      s.v6 = v6;
      s.proto = proto;
      auto b = make(s);
      size_t iph = v6 ? 40 : 20;
      auto src = std::span<const uint8_t>(b).subspan(v6 ? 8 : 12, v6 ? 16 : 4);
      auto dst = std::span<const uint8_t>(b).subspan(v6 ? 24 : 16, v6 ? 16 : 4);
      uint64_t ph = pseudo_header_sum(src, dst, proto, static_cast<uint32_t>(b.size() - iph));
      EXPECT_EQ(checksum(std::span<const uint8_t>(b).subspan(iph), ph), 0) << v6 << int(proto);
    }
}

TEST(OffloadHeader, EncodesInHostOrderAndRoundTrips) {
  VirtioNetHdr h{kFlagNeedsCsum, kGsoTcpV4 | kGsoEcn, 0x1234, 1380, 20, 16};
  std::array<uint8_t, 10> b{};
  h.encode(b);
  EXPECT_EQ(b[0], kFlagNeedsCsum);
  EXPECT_EQ(b[1], kGsoTcpV4 | kGsoEcn);
  uint16_t v;
  std::memcpy(&v, &b[2], 2);
  EXPECT_EQ(v, 0x1234);
  EXPECT_EQ(VirtioNetHdr::decode(b), h);
}

// ---- split ----

struct SplitCase {
  std::string name;
  Spec spec;
  size_t gso_size;
};

class OffloadSplit : public ::testing::TestWithParam<SplitCase> {};

TEST_P(OffloadSplit, GivesTheSegmentsASenderWouldHaveSent) {
  const SplitCase& c = GetParam();
  Super sp = make_super(c.spec, c.gso_size);
  auto want = expected_segments(c.spec, c.gso_size);
  ASSERT_EQ(gso_segment_count(sp.hdr, sp.bytes), want.size());
  Buffers bufs;
  // In place, as a TUN read does: the super-packet sits in the first output buffer.
  std::vector<Packet> out = {bufs.add(sp.bytes)};
  for (size_t i = 1; i < want.size(); i++) out.push_back(bufs.add({}));
  SplitResult r = gso_split(sp.hdr, out[0].bytes(), out);
  ASSERT_EQ(r.status, SplitStatus::kOk);
  ASSERT_EQ(r.emitted, want.size());
  ASSERT_EQ(r.total, want.size());
  for (size_t i = 0; i < want.size(); i++) {
    auto got = bytes_of(out[i]);
    EXPECT_TRUE(valid_checksums(got)) << "segment " << i;
    EXPECT_EQ(got, want[i]) << "segment " << i;
  }
}

TEST_P(OffloadSplit, ResumesWhereTheLastBatchStopped) {
  const SplitCase& c = GetParam();
  Super sp = make_super(c.spec, c.gso_size);
  auto want = expected_segments(c.spec, c.gso_size);
  Buffers bufs;
  std::vector<uint8_t> in = sp.bytes;  // a buffer of its own: no output aliases it
  size_t done = 0;
  while (done < want.size()) {
    auto out = bufs.empty(2);
    SplitResult r = gso_split(sp.hdr, in, out, done);
    ASSERT_EQ(r.status, SplitStatus::kOk);
    ASSERT_EQ(r.emitted, std::min<size_t>(2, want.size() - done));
    for (size_t j = 0; j < r.emitted; j++) EXPECT_EQ(bytes_of(out[j]), want[done + j]);
    done += r.emitted;
  }
  EXPECT_EQ(in, sp.bytes) << "the input is only read when it is not split in place";
}

Spec tcp4(size_t payload, uint8_t flags = kAck) {
  Spec s;
  s.payload = payload;
  s.flags = flags;
  return s;
}
Spec with(Spec s, auto&& change) {
  change(s);
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, OffloadSplit,
    ::testing::Values(
        SplitCase{"tcp4_even", tcp4(4 * 1380), 1380},
        SplitCase{"tcp4_short_last_psh_fin", tcp4(3 * 1380 + 17, kAck | kPsh | kFin), 1380},
        SplitCase{"tcp4_ecn_cwr_first_only",
                  with(tcp4(3000, kAck | kCwr), [](Spec& s) { s.id = 65534; }), 1000},
        SplitCase{"tcp4_options",
                  with(tcp4(5000),
                       [](Spec& s) { s.tcp_options = {1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8}; }),
                  1368},
        SplitCase{"tcp4_seq_wraps", with(tcp4(4000), [](Spec& s) { s.seq = 0xfffff000; }), 1400},
        SplitCase{"tcp4_single_segment", tcp4(500, kAck | kPsh), 1380},
        SplitCase{"tcp4_no_payload", tcp4(0), 1380},
        SplitCase{"tcp6", with(tcp4(3 * 1360 + 1), [](Spec& s) { s.v6 = true; }), 1360},
        SplitCase{"tcp6_tclass", with(tcp4(2720), [](Spec& s) { s.v6 = true, s.tos = 0xb8; }),
                  1360},
        SplitCase{"udp4", with(tcp4(5 * 1200), [](Spec& s) { s.proto = kProtoUdp; }), 1200},
        SplitCase{"udp4_short_last", with(tcp4(2 * 1200 + 3), [](Spec& s) { s.proto = kProtoUdp; }),
                  1200},
        SplitCase{"udp6", with(tcp4(3 * 1000), [](Spec& s) { s.proto = kProtoUdp, s.v6 = true; }),
                  1000},
        SplitCase{"tiny_mss", tcp4(2000), 88}, SplitCase{"max_size", tcp4(65535 - 40), 1380}),
    [](const auto& info) { return info.param.name; });

TEST(OffloadSplit, NoGsoCompletesTheChecksumWhenAsked) {
  for (bool v6 : {false, true})
    for (uint8_t proto : {kProtoTcp, kProtoUdp}) {
      Spec s;
      s.v6 = v6;
      s.proto = proto;
      s.payload = 333;
      auto want = make(s);
      // As the kernel leaves it with TUN_F_CSUM: the field holds the pseudo-header sum.
      auto in = want;
      size_t iph = v6 ? 40 : 20, at = iph + (proto == kProtoTcp ? 16 : 6);
      auto src = std::span<const uint8_t>(in).subspan(v6 ? 8 : 12, v6 ? 16 : 4);
      auto dst = std::span<const uint8_t>(in).subspan(v6 ? 24 : 16, v6 ? 16 : 4);
      uint16_t partial =
          checksum_fold(pseudo_header_sum(src, dst, proto, static_cast<uint32_t>(in.size() - iph)));
      put16(in, at, partial);
      VirtioNetHdr h{kFlagNeedsCsum,
                     kGsoNone,
                     0,
                     0,
                     static_cast<uint16_t>(iph),
                     static_cast<uint16_t>(proto == kProtoTcp ? 16 : 6)};
      Buffers bufs;
      auto out = bufs.empty(1);
      auto r = gso_split(h, in, out);
      ASSERT_EQ(r.status, SplitStatus::kOk);
      ASSERT_EQ(r.emitted, 1u);
      auto got = bytes_of(out[0]);
      EXPECT_TRUE(valid_checksums(got));
      // Equal up to the two encodings of zero.
      if (got != want) {
        EXPECT_EQ(get16(&got[at]) ^ get16(&want[at]), 0xffff);
      }
    }
}

TEST(OffloadSplit, NoGsoWithoutFlagsIsCopiedAsIs) {
  std::vector<uint8_t> in = {0x45, 1, 2, 3, 4, 5};  // not even a valid packet: not our business
  Buffers bufs;
  auto out = bufs.empty(1);
  auto r = gso_split(VirtioNetHdr{}, in, out);
  ASSERT_EQ(r.status, SplitStatus::kOk);
  EXPECT_EQ(bytes_of(out[0]), in);
}

TEST(OffloadSplit, HdrLenIsNotTrusted) {
  Spec s = tcp4(3000);
  Super sp = make_super(s, 1000);
  auto want = expected_segments(s, 1000);
  for (uint16_t lie : {0, 1, 54, 200, 65535}) {
    sp.hdr.hdr_len = lie;
    Buffers bufs;
    auto out = bufs.empty(3);
    auto r = gso_split(sp.hdr, sp.bytes, out);
    ASSERT_EQ(r.status, SplitStatus::kOk) << lie;
    for (size_t i = 0; i < 3; i++) EXPECT_EQ(bytes_of(out[i]), want[i]);
  }
}

struct BadCase {
  std::string name;
  SplitStatus status;
  std::function<void(Super&)> damage;
};

class OffloadSplitRefuses : public ::testing::TestWithParam<BadCase> {};

TEST_P(OffloadSplitRefuses, Case) {
  Super sp = make_super(tcp4(3000), 1000);
  GetParam().damage(sp);
  Buffers bufs;
  auto out = bufs.empty(4, kHeadroom + 1500);
  auto r = gso_split(sp.hdr, sp.bytes, out);
  EXPECT_EQ(r.status, GetParam().status);
  EXPECT_EQ(r.emitted, 0u);
  if (GetParam().status != SplitStatus::kNoRoom) {
    EXPECT_EQ(gso_segment_count(sp.hdr, sp.bytes), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, OffloadSplitRefuses,
    ::testing::Values(
        BadCase{"ufo", SplitStatus::kUnsupported, [](Super& s) { s.hdr.gso_type = kGsoUdp; }},
        BadCase{"unknown_type", SplitStatus::kUnsupported, [](Super& s) { s.hdr.gso_type = 2; }},
        BadCase{"tcp6_type_on_ipv4", SplitStatus::kMalformed,
                [](Super& s) { s.hdr.gso_type = kGsoTcpV6; }},
        BadCase{"udp_type_on_tcp", SplitStatus::kMalformed,
                [](Super& s) { s.hdr.gso_type = kGsoUdpL4; }},
        BadCase{"gso_size_zero", SplitStatus::kMalformed, [](Super& s) { s.hdr.gso_size = 0; }},
        BadCase{"csum_start_wrong", SplitStatus::kMalformed,
                [](Super& s) { s.hdr.csum_start = 24; }},
        BadCase{"csum_offset_wrong", SplitStatus::kMalformed,
                [](Super& s) { s.hdr.csum_offset = 6; }},
        BadCase{"truncated_tcp_header", SplitStatus::kMalformed,
                [](Super& s) { s.bytes.resize(30); }},
        BadCase{"tcp_doff_past_end", SplitStatus::kMalformed,
                [](Super& s) {
                  s.bytes.resize(60);
                  s.bytes[32] = 0xf0;
                }},
        BadCase{"tcp_doff_too_small", SplitStatus::kMalformed,
                [](Super& s) { s.bytes[32] = 0x40; }},
        BadCase{"ihl_too_small", SplitStatus::kMalformed, [](Super& s) { s.bytes[0] = 0x44; }},
        BadCase{"fragment", SplitStatus::kMalformed, [](Super& s) { s.bytes[6] |= 0x20; }},
        BadCase{"not_ip", SplitStatus::kMalformed, [](Super& s) { s.bytes[0] = 0x55; }},
        BadCase{"empty", SplitStatus::kMalformed, [](Super& s) { s.bytes.clear(); }},
        BadCase{"wrong_protocol", SplitStatus::kMalformed, [](Super& s) { s.bytes[9] = 17; }},
        BadCase{"ipv6_extension_header", SplitStatus::kUnsupported,
                [](Super& s) {
                  s = make_super(with(tcp4(3000), [](Spec& p) { p.v6 = true; }), 1000);
                  s.bytes[6] = 0;  // hop-by-hop
                }},
        BadCase{"segment_over_64k", SplitStatus::kMalformed,
                [](Super& s) {
                  s = make_super(tcp4(65535 - 40), 65535);
                  s.bytes.resize(70000);
                }},
        BadCase{"output_too_small", SplitStatus::kNoRoom, [](Super& s) { s.hdr.gso_size = 2000; }}),
    [](const auto& info) { return info.param.name; });

TEST(OffloadSplit, RefusesOutputsThatOverlapTheInput) {
  Super sp = make_super(tcp4(3000), 1000);
  Buffers bufs;
  Packet in = bufs.add(sp.bytes);
  std::vector<Packet> out = {bufs.add({}), in};  // the second output is the input's buffer
  EXPECT_EQ(gso_split(sp.hdr, in.bytes(), out).status, SplitStatus::kNoRoom);
  std::vector<Packet> shifted = {in};
  shifted[0].offset += 1;
  EXPECT_EQ(gso_split(sp.hdr, in.bytes(), shifted).status, SplitStatus::kNoRoom);
}

TEST(OffloadSplit, DamagedInputNeverReadsOrWritesOutOfBounds) {
  // Exact-size copies, so a sanitizer build sees any overrun.
  std::mt19937 rng(11);
  std::vector<Super> seeds = {
      make_super(tcp4(4000), 1380),
      make_super(with(tcp4(3000), [](Spec& s) { s.v6 = true; }), 1000),
      make_super(with(tcp4(3000), [](Spec& s) { s.proto = kProtoUdp; }), 1200)};
  for (int i = 0; i < 20000; i++) {
    Super s = seeds[static_cast<size_t>(i) % seeds.size()];
    std::array<uint8_t, 10> hb;
    s.hdr.encode(hb);
    for (int k = 0; k < 3; k++) {
      size_t at = rng() % (hb.size() + 64);
      if (at < hb.size())
        hb[at] = static_cast<uint8_t>(rng());
      else
        s.bytes[at - hb.size()] = static_cast<uint8_t>(rng());
    }
    if (rng() % 4 == 0) s.bytes.resize(rng() % s.bytes.size());
    VirtioNetHdr h = VirtioNetHdr::decode(hb);
    std::vector<std::vector<uint8_t>> store;
    std::vector<Packet> out;
    for (int k = 0; k < 8; k++) {
      store.emplace_back(kHeadroom + 1500 + rng() % 64);
      out.push_back(
          Packet{store.back().data(), static_cast<uint32_t>(store.back().size()), kHeadroom, 0});
    }
    auto r = gso_split(h, s.bytes, out);
    ASSERT_LE(r.emitted, out.size());
    if (r.status == SplitStatus::kOk) {
      ASSERT_EQ(r.emitted, std::min(r.total, out.size()));
    }
    for (size_t k = 0; k < r.emitted; k++) ASSERT_LE(out[k].offset + out[k].size, out[k].capacity);
  }
}

// ---- coalesce ----

struct CoalesceCase {
  std::string name;
  std::vector<Spec> packets;
  std::vector<size_t> segments;  // per write: how many packets it carries
  bool udp = false;
  std::function<void(std::vector<std::vector<uint8_t>>&)> damage = nullptr;
};

// A run of `n` segments of `size` bytes of one TCP flow, in sequence.
std::vector<Spec> run(size_t n, size_t size, Spec base = tcp4(0)) {
  std::vector<Spec> out;
  for (size_t i = 0; i < n; i++) {
    Spec s = base;
    s.payload = size;
    s.seq = base.seq + static_cast<uint32_t>(i * size);
    s.id = static_cast<uint16_t>(base.id + i);
    out.push_back(s);
  }
  return out;
}
std::vector<Spec> cat(std::vector<Spec> a, const std::vector<Spec>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
std::vector<Spec> edit(std::vector<Spec> v, size_t i, auto&& change) {
  change(v[i]);
  return v;
}

class OffloadCoalesce : public ::testing::TestWithParam<CoalesceCase> {};

TEST_P(OffloadCoalesce, GroupsAndSplitsBackToTheSamePackets) {
  const CoalesceCase& c = GetParam();
  std::vector<std::vector<uint8_t>> raw;
  for (const Spec& s : c.packets) raw.push_back(make(s));
  if (c.damage) c.damage(raw);
  Buffers bufs;
  std::vector<Packet> packets;
  for (auto& r : raw) packets.push_back(bufs.add(r));
  std::vector<TunWrite> writes(packets.size());
  std::vector<uint32_t> next(packets.size());
  size_t n = coalesce(packets, CoalesceOptions{c.udp}, writes, next);
  ASSERT_EQ(n, c.segments.size());
  size_t carried = 0;
  for (size_t w = 0; w < n; w++) {
    const TunWrite& tw = writes[w];
    SCOPED_TRACE("write " + std::to_string(w));
    // Writes come in the order of their first packet, and each carries the packets that follow
    // it in its flow; replaying the split gives back exactly what went in.
    std::vector<uint8_t> copy = written(packets, next, tw);
    EXPECT_EQ(tw.count, c.segments[w]);
    if (c.segments[w] == 1) {
      EXPECT_EQ(tw.hdr, VirtioNetHdr{});
      EXPECT_EQ(copy, raw[tw.index]);
    } else {
      EXPECT_EQ(tw.hdr.flags, kFlagNeedsCsum);
      EXPECT_NE(tw.hdr.gso_type, kGsoNone);
      EXPECT_EQ(gso_segment_count(tw.hdr, copy), c.segments[w]);
    }
    auto out = bufs.empty(c.segments[w]);
    auto r = gso_split(tw.hdr, copy, out);
    ASSERT_EQ(r.status, SplitStatus::kOk);
    ASSERT_EQ(r.emitted, c.segments[w]);
    // The packets of this write are the next ones of its flow among the inputs.
    std::vector<size_t> members = {tw.index};
    for (size_t i = tw.index + 1; members.size() < c.segments[w] && i < raw.size(); i++)
      if (raw[i].size() > 20 &&
          std::equal(raw[i].begin() + 12, raw[i].begin() + 16, raw[tw.index].begin() + 12) &&
          (raw[i][0] >> 4) == (raw[tw.index][0] >> 4))
        members.push_back(i);
    for (size_t k = 0; k < r.emitted; k++)
      EXPECT_EQ(bytes_of(out[k]), raw[members[k]]) << "segment " << k;
    carried += c.segments[w];
  }
  EXPECT_EQ(carried, raw.size());
}

Spec v6(Spec s) {
  s.v6 = true;
  return s;
}
Spec udp(Spec s) {
  s.proto = kProtoUdp;
  return s;
}
using Damage = std::function<void(std::vector<std::vector<uint8_t>>&)>;
// Flips bits of byte `at` in packet `i`.
Damage flip(size_t i, size_t at, uint8_t bits) {
  return [=](auto& raw) { raw[i][at] ^= bits; };
}
Damage on_all(size_t at, uint8_t bits) {
  return [=](auto& raw) {
    for (auto& r : raw) r[at] ^= bits;
  };
}

std::vector<CoalesceCase> coalesce_cases() {
  const std::vector<uint8_t> ts = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};  // NOP NOP timestamps
  Spec with_ts = with(tcp4(0), [&](Spec& s) { s.tcp_options = ts; });
  Spec no_df = with(tcp4(0), [](Spec& s) { s.df = false; });
  Spec tail = with(tcp4(0), [](Spec& s) { s.seq = 1000 + 3 * 1380, s.id = 10; });
  auto flow_b = [](Spec s) { return with(s, [](Spec& b) { b.src_last = 9; }); };
  auto a = run(2, 1000);
  return {
      {"tcp4_run", run(4, 1380), {4}},
      {"tcp4_short_last", cat(run(3, 1380), run(1, 99, tail)), {4}},
      {"tcp4_short_middle_ends_it",
       edit(run(4, 1380), 1, [](Spec& s) { s.payload = 100; }),
       {2, 2}},
      {"tcp4_psh_last", edit(run(3, 1380), 2, [](Spec& s) { s.flags |= kPsh; }), {3}},
      {"tcp4_psh_middle_ends_it", edit(run(4, 1380), 1, [](Spec& s) { s.flags |= kPsh; }), {2, 2}},
      {"tcp4_psh_first_alone", edit(run(3, 1380), 0, [](Spec& s) { s.flags |= kPsh; }), {1, 2}},
      {"tcp4_gap", edit(run(3, 1380), 2, [](Spec& s) { s.seq += 1; }), {2, 1}},
      {"tcp4_other_ack", edit(run(3, 1380), 1, [](Spec& s) { s.ack += 1; }), {1, 1, 1}},
      {"tcp4_other_window", edit(run(2, 1380), 1, [](Spec& s) { s.window = 1; }), {1, 1}},
      {"tcp4_other_options",
       edit(run(2, 1380, with_ts), 1, [](Spec& s) { s.tcp_options[7] = 9; }),
       {1, 1}},
      {"tcp4_same_options", run(3, 1368, with_ts), {3}},
      {"tcp4_other_ttl", edit(run(2, 1380), 1, [](Spec& s) { s.ttl = 3; }), {1, 1}},
      {"tcp4_ecn_ce_mark", edit(run(2, 1380), 1, [](Spec& s) { s.tos = 3; }), {1, 1}},
      {"tcp4_no_df_needs_ids_in_order",
       edit(run(3, 1380, no_df), 2, [](Spec& s) { s.id = 99; }),
       {2, 1}},
      {"tcp4_fin_alone", edit(run(2, 1380), 0, [](Spec& s) { s.flags |= kFin; }), {1, 1}},
      {"tcp4_syn_alone", edit(run(2, 1380), 1, [](Spec& s) { s.flags = kSyn; }), {1, 1}},
      {"tcp4_pure_acks_alone", run(3, 0), {1, 1, 1}},
      {"tcp4_interleaved_flows", {a[0], flow_b(a[0]), a[1], flow_b(a[1])}, {2, 2}},
      {"tcp4_65_segments", run(65, 1000), {64, 1}},
      {"tcp4_64k_limit", run(3, 30000), {2, 1}},
      {"tcp6_run", run(5, 1360, v6(tcp4(0))), {5}},
      {"tcp6_other_flow_label",
       edit(run(2, 1360, v6(tcp4(0))), 1, [](Spec& s) { s.tos = 4; }),
       {1, 1}},
      {"tcp4_then_tcp6", cat(run(2, 1000), run(2, 1000, v6(tcp4(0)))), {2, 2}},
      {"udp4_run", run(4, 1200, udp(tcp4(0))), {4}, true},
      {"udp4_without_uso", run(2, 1200, udp(tcp4(0))), {1, 1}},
      {"udp6_short_last",
       edit(run(3, 1200, udp(v6(tcp4(0)))), 2, [](Spec& s) { s.payload = 10; }),
       {3},
       true},
      {"udp4_bigger_after_first",
       edit(run(3, 1000, udp(tcp4(0))), 1, [](Spec& s) { s.payload = 1001; }),
       {1, 2},
       true},
      {"udp4_zero_checksum_alone",
       run(2, 1000, udp(tcp4(0))),
       {1, 1},
       true,
       [](auto& raw) {
         for (auto& r : raw) put16(r, 26, 0);
       }},
      {"tcp4_bad_checksum_second", run(3, 1000), {1, 1, 1}, false, flip(1, 60, 1)},
      {"tcp4_bad_checksum_first", run(3, 1000), {1, 2}, false, flip(0, 60, 1)},
      {"tcp4_bad_ip_checksum", run(2, 1000), {1, 1}, false, flip(1, 10, 1)},
      {"ipv4_options_alone", run(2, 1000), {1, 1}, false, on_all(0, 0x03)},  // ihl 6
      {"ipv4_fragments_alone", run(2, 1000), {1, 1}, false, on_all(6, 0x20)},
      {"ipv4_length_lies_alone", run(2, 1000), {1, 1}, false, on_all(3, 4)},
      {"garbage_alone",
       run(2, 1000),
       {1, 1},
       false,
       [](auto& raw) {
         raw[0].resize(3);
         raw[1][0] = 0x70;
       }},
  };
}

INSTANTIATE_TEST_SUITE_P(Cases, OffloadCoalesce, ::testing::ValuesIn(coalesce_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(OffloadCoalesce, SuperPacketHeaderIsWhatTheKernelExpects) {
  Buffers bufs;
  std::vector<Packet> packets;
  for (const Spec& s : run(3, 1000)) packets.push_back(bufs.add(make(s)));
  std::vector<TunWrite> writes(3);
  std::vector<uint32_t> next(3);
  ASSERT_EQ(coalesce(packets, {}, writes, next), 1u);
  EXPECT_EQ(writes[0].hdr, (VirtioNetHdr{kFlagNeedsCsum, kGsoTcpV4, 40, 1000, 20, 16}));
  EXPECT_EQ(writes[0].count, 3u);
  auto b = written(packets, next, writes[0]);
  ASSERT_EQ(b.size(), 3040u);
  EXPECT_EQ(get16(&b[2]), 3040);
  EXPECT_EQ(ref_checksum(b, 0, 20), 0);
  // The TCP checksum field holds the pseudo-header sum (not complemented) for NEEDS_CSUM.
  std::vector<uint8_t> ph = {10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0x0b, 0xcc};  // 3020 bytes
  EXPECT_EQ(get16(&b[36]), static_cast<uint16_t>(~ref_checksum(ph, 0, ph.size())));
}

// GRO segments arrive as adjacent slices of one buffer, with no room behind any of them:
// coalescing copies nothing, so it neither needs room nor touches a neighbour's bytes.
TEST(OffloadCoalesce, AdjacentSlicesOfOneBufferCoalesceUntouched) {
  std::vector<std::vector<uint8_t>> raw;
  for (const Spec& s : run(3, 1000)) raw.push_back(make(s));
  Spec other = tcp4(700);
  other.src_last = 9;  // another flow, between the segments
  raw.insert(raw.begin() + 1, make(other));
  std::vector<uint8_t> buffer(kHeadroom);
  std::vector<Packet> packets;
  for (auto& r : raw) buffer.insert(buffer.end(), r.begin(), r.end());
  size_t at = kHeadroom;
  for (auto& r : raw) {
    packets.push_back(Packet{buffer.data(), static_cast<uint32_t>(at + r.size()),
                             static_cast<uint32_t>(at), static_cast<uint32_t>(r.size())});
    at += r.size();
  }
  std::vector<TunWrite> writes(4);
  std::vector<uint32_t> next(4);
  ASSERT_EQ(coalesce(packets, {}, writes, next), 2u);
  EXPECT_EQ(writes[0].count, 3u);
  EXPECT_EQ(writes[1].index, 1u);
  EXPECT_EQ(written(packets, next, writes[1]), raw[1]);
  for (size_t i = 1; i < 4; i++) EXPECT_EQ(bytes_of(packets[i]), raw[i]) << "packet " << i;
  Buffers bufs;
  auto out = bufs.empty(3);
  std::vector<uint8_t> super = written(packets, next, writes[0]);
  ASSERT_EQ(super.size(), 3040u);
  auto r = gso_split(writes[0].hdr, super, out);
  ASSERT_EQ(r.emitted, 3u);
  for (size_t k = 0; k < 3; k++) EXPECT_EQ(bytes_of(out[k]), raw[k == 0 ? 0 : k + 1]);
}

TEST(OffloadCoalesce, SuperPacketStaysWithin65535Bytes) {
  Buffers bufs;
  std::vector<Packet> packets;
  for (const Spec& s : run(60, 1400)) packets.push_back(bufs.add(make(s)));
  std::vector<TunWrite> writes(packets.size());
  std::vector<uint32_t> next(packets.size());
  size_t n = coalesce(packets, {}, writes, next);
  ASSERT_EQ(n, 2u);
  // 46 segments of 1400 bytes and one header fit (64440); the 47th would not.
  EXPECT_EQ(writes[0].count, 46u);
  EXPECT_EQ(written(packets, next, writes[0]).size(), 40u + 46 * 1400);
  EXPECT_EQ(writes[1].count, 14u);
}

TEST(OffloadCoalesce, ManyFlowsAndMoreThanOneChunk) {
  Buffers bufs;
  std::vector<Packet> packets;
  std::vector<std::vector<uint8_t>> raw;
  // 300 packets: 100 flows of 3 segments, interleaved.
  for (size_t k = 0; k < 3; k++)
    for (uint8_t f = 0; f < 100; f++) {
      Spec s = tcp4(500);
      s.src_last = f;
      s.seq = 1000 + static_cast<uint32_t>(k * 500);
      s.id = static_cast<uint16_t>(7 + k);
      raw.push_back(make(s));
      packets.push_back(bufs.add(raw.back()));
    }
  std::vector<TunWrite> writes(packets.size());
  std::vector<uint32_t> next(packets.size());
  size_t n = coalesce(packets, {}, writes, next);
  // Chunks of 128: flows whose segments straddle a chunk boundary stay apart there.
  EXPECT_LT(n, 300u);
  EXPECT_GE(n, 100u);
  size_t carried = 0;
  for (size_t w = 0; w < n; w++) {
    ASSERT_LT(writes[w].index, packets.size());
    if (w > 0) {
      EXPECT_LT(writes[w - 1].index, writes[w].index);
    }
    carried += writes[w].count;
    // Split back, the write gives exactly the packets its chain names (indices across chunks).
    std::vector<uint8_t> copy = written(packets, next, writes[w]);
    Buffers out_bufs;
    auto out = out_bufs.empty(writes[w].count);
    auto r = gso_split(writes[w].hdr, copy, out);
    ASSERT_EQ(r.status, SplitStatus::kOk);
    ASSERT_EQ(r.emitted, writes[w].count);
    uint32_t k = writes[w].index;
    for (size_t seg = 0; seg < r.emitted; seg++, k = next[k]) {
      ASSERT_LT(k, raw.size());
      EXPECT_EQ(bytes_of(out[seg]), raw[k]) << "write " << w << " segment " << seg;
    }
    EXPECT_EQ(k, kEndOfWrite);
  }
  EXPECT_EQ(carried, 300u);
}

TEST(OffloadCoalesce, DamagedPacketsNeverCrash) {
  std::mt19937 rng(5);
  auto base = run(6, 700);
  for (int i = 0; i < 1000; i++) {  // fuzz_offload goes further
    std::vector<std::vector<uint8_t>> raw;
    for (auto& s : base) raw.push_back(make(s));
    for (int k = 0; k < 4; k++) {
      auto& r = raw[rng() % raw.size()];
      r[rng() % 60] = static_cast<uint8_t>(rng());
    }
    if (rng() % 3 == 0) raw[rng() % raw.size()].resize(rng() % 80);
    std::vector<std::vector<uint8_t>> store;
    std::vector<Packet> packets;
    for (auto& r : raw) {
      // Exact-size buffers: an append past the capacity is a heap overflow sanitizers see.
      store.emplace_back(kHeadroom + r.size() + rng() % 3000);
      std::copy(r.begin(), r.end(), store.back().begin() + kHeadroom);
      packets.push_back(Packet{store.back().data(), static_cast<uint32_t>(store.back().size()),
                               kHeadroom, static_cast<uint32_t>(r.size())});
    }
    std::vector<TunWrite> writes(packets.size());
    std::vector<uint32_t> next(packets.size());
    size_t n = coalesce(packets, {true}, writes, next);
    ASSERT_LE(n, packets.size());
    for (size_t w = 0; w < n; w++) {
      Packet& h = packets[writes[w].index];
      ASSERT_LE(h.offset + h.size, h.capacity);
      if (writes[w].hdr.gso_type != kGsoNone) {
        std::vector<uint8_t> copy = written(packets, next, writes[w]);
        Buffers bufs;
        auto out = bufs.empty(kMaxCoalesceSegments);
        auto r = gso_split(writes[w].hdr, copy, out);
        ASSERT_EQ(r.status, SplitStatus::kOk);
        for (size_t k = 0; k < r.emitted; k++) EXPECT_TRUE(valid_checksums(bytes_of(out[k])));
      }
    }
  }
}
