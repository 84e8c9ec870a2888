// GSO split and coalescing for TUN offloads, and the checksums they need. Every length read from a
// packet is checked before it is used: the input comes from the kernel (reads) or from the
// network after decryption (writes), and fuzzers drive these functions with arbitrary bytes.
#include "engine/linux/offload.h"

#include <algorithm>
#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace wgnet::engine::offload {

namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
void put_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put_be32(uint8_t* p, uint32_t v) {
  put_be16(p, static_cast<uint16_t>(v >> 16));
  put_be16(p + 2, static_cast<uint16_t>(v));
}

uint16_t load_host16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
void store_host16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, sizeof v); }

// The one's-complement sum of the bytes read as native-endian words, folded to 16 bits. Summing
// in native order and swapping once at the end equals the big-endian sum (RFC 1071, 2.B). 32-bit
// words go into four independent 64-bit accumulators (no carries to chase: 2^32 words fit), which
// lets the CPU add them in parallel.
uint64_t native_sum_scalar(const uint8_t* p, size_t n) {
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  while (n >= 32) {
    uint32_t w[8];
    std::memcpy(w, p, sizeof w);
    a0 += w[0];
    a1 += w[1];
    a2 += w[2];
    a3 += w[3];
    a0 += w[4];
    a1 += w[5];
    a2 += w[6];
    a3 += w[7];
    p += 32;
    n -= 32;
  }
  while (n >= 4) {
    uint32_t w;
    std::memcpy(&w, p, sizeof w);
    a0 += w;
    p += 4;
    n -= 4;
  }
  if (n > 0) {
    // The tail keeps its position inside the word, so an odd last byte is padded with zero.
    uint32_t w = 0;
    std::memcpy(&w, p, n);
    a1 += w;
  }
  // Each below 2^62 for any buffer smaller than 2^32 words: the sum does not overflow.
  return (a0 + a1) + (a2 + a3);
}

uint16_t fold64(uint64_t s) {
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

#if defined(__x86_64__)
// The same sum with AVX2: 16-bit words widened into 32-bit lanes, 64 bytes per step. A lane
// takes at most 2 * 0xffff per step, so blocks of 16 KiB steps cannot overflow it.
__attribute__((target("avx2"))) uint64_t native_sum_avx2(const uint8_t* p, size_t n) {
  uint64_t total = 0;
  const __m256i zero = _mm256_setzero_si256();
  while (n >= 64) {
    __m256i acc0 = zero, acc1 = zero;
    for (size_t steps = 0; n >= 64 && steps < 16384; steps++, p += 64, n -= 64) {
      __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
      __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
      acc0 = _mm256_add_epi32(acc0, _mm256_unpacklo_epi16(a, zero));
      acc1 = _mm256_add_epi32(acc1, _mm256_unpackhi_epi16(a, zero));
      acc0 = _mm256_add_epi32(acc0, _mm256_unpacklo_epi16(b, zero));
      acc1 = _mm256_add_epi32(acc1, _mm256_unpackhi_epi16(b, zero));
    }
    alignas(32) uint32_t lanes[16];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc0);
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes + 8), acc1);
    for (uint32_t lane : lanes) total += lane;
  }
  // The rest starts at a multiple of 64 bytes: its words line up with the ones summed above.
  return total + native_sum_scalar(p, n);
}

bool have_avx2() {
  // __builtin_cpu_init first: this may run before the runtime's own constructors.
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return yes;
}
#endif

uint16_t native_sum16(const uint8_t* p, size_t n) {
#if defined(__x86_64__)
  if (n >= 128 && have_avx2()) return fold64(native_sum_avx2(p, n));
#endif
  return fold64(native_sum_scalar(p, n));
}

bool ranges_overlap(const uint8_t* a, size_t an, const uint8_t* b, size_t bn) {
  auto x = reinterpret_cast<uintptr_t>(a);
  auto y = reinterpret_cast<uintptr_t>(b);
  return x < y + bn && y < x + an;
}

// Room for the packet's bytes behind its offset.
size_t room(const Packet& p) { return p.capacity >= p.offset ? p.capacity - p.offset : 0; }

// ---- split ----

// What gso_split needs to know about a TCP/UDP super-packet, all validated.
struct GsoLayout {
  bool v6 = false;
  uint8_t protocol = 0;
  size_t iph_len = 0;  // == csum_start
  size_t th_len = 0;   // transport header
  size_t hdr_len = 0;  // iph_len + th_len
  size_t payload = 0;  // bytes after hdr_len
  size_t gso_size = 0;
  size_t total = 0;  // segments
};

SplitStatus gso_layout(const VirtioNetHdr& h, std::span<const uint8_t> in, GsoLayout& l) {
  uint8_t type = h.gso_type & static_cast<uint8_t>(~kGsoEcn);
  bool tcp = type == kGsoTcpV4 || type == kGsoTcpV6;
  if (!tcp && type != kGsoUdpL4) return SplitStatus::kUnsupported;
  l.protocol = tcp ? kProtoTcp : kProtoUdp;
  if (in.empty()) return SplitStatus::kMalformed;
  int version = in[0] >> 4;
  if (version == 4 && type != kGsoTcpV6) {
    if (in.size() < 20) return SplitStatus::kMalformed;
    l.iph_len = size_t{in[0] & 0x0fu} * 4;
    if (l.iph_len < 20 || l.iph_len > in.size() || in[9] != l.protocol)
      return SplitStatus::kMalformed;
    if ((be16(&in[6]) & 0x3fff) != 0) return SplitStatus::kMalformed;  // MF or an offset
  } else if (version == 6 && type != kGsoTcpV4) {
    l.v6 = true;
    if (in.size() < 40) return SplitStatus::kMalformed;
    // Extension headers would sit between the two headers; the kernel does not produce them here
    // and their pseudo-header rules (routing header) are not worth the risk.
    if (in[6] != l.protocol) return SplitStatus::kUnsupported;
    l.iph_len = 40;
  } else {
    return SplitStatus::kMalformed;
  }
  if (h.csum_start != l.iph_len) return SplitStatus::kMalformed;
  if (h.csum_offset != (tcp ? 16 : 6)) return SplitStatus::kMalformed;
  if (tcp) {
    if (in.size() < l.iph_len + 20) return SplitStatus::kMalformed;
    l.th_len = size_t{static_cast<uint8_t>(in[l.iph_len + 12] >> 4)} * 4;
    if (l.th_len < 20) return SplitStatus::kMalformed;
  } else {
    l.th_len = 8;
  }
  l.hdr_len = l.iph_len + l.th_len;
  if (l.hdr_len > in.size() || h.gso_size == 0) return SplitStatus::kMalformed;
  l.payload = in.size() - l.hdr_len;
  l.gso_size = h.gso_size;
  l.total = l.payload == 0 ? 1 : (l.payload + l.gso_size - 1) / l.gso_size;
  // Every segment must be a valid IP packet: its length fits the 16-bit length fields.
  if (l.hdr_len + std::min(l.gso_size, l.payload) > 65535) return SplitStatus::kMalformed;
  return SplitStatus::kOk;
}

// GSO_NONE: one packet, its transport checksum completed if the kernel left it to us.
SplitResult split_none(const VirtioNetHdr& h, std::span<uint8_t> in, std::span<Packet> out,
                       size_t first) {
  bool needs_csum = (h.flags & kFlagNeedsCsum) != 0;
  if (needs_csum &&
      (h.csum_start > in.size() || size_t{h.csum_start} + h.csum_offset + 2 > in.size()))
    return {SplitStatus::kMalformed, 0, 0};
  if (first >= 1 || out.empty()) return {SplitStatus::kOk, 0, 1};
  Packet& o = out[0];
  if (room(o) < in.size()) return {SplitStatus::kNoRoom, 0, 1};
  uint8_t* dst = o.base + o.offset;
  if (dst != in.data()) {
    if (ranges_overlap(dst, in.size(), in.data(), in.size())) return {SplitStatus::kNoRoom, 0, 1};
    std::memcpy(dst, in.data(), in.size());
  }
  if (needs_csum) {
    // The field holds the pseudo-header sum: summing over it completes the checksum.
    uint8_t* field = dst + h.csum_start + h.csum_offset;
    uint16_t c = checksum({dst + h.csum_start, in.size() - h.csum_start});
    put_be16(field, c == 0 ? 0xffff : c);
  }
  o.size = static_cast<uint32_t>(in.size());
  return {SplitStatus::kOk, 1, 1};
}

std::span<const uint8_t> src_addr(const uint8_t* ip, bool v6) {
  return v6 ? std::span<const uint8_t>(ip + 8, 16) : std::span<const uint8_t>(ip + 12, 4);
}
std::span<const uint8_t> dst_addr(const uint8_t* ip, bool v6) {
  return v6 ? std::span<const uint8_t>(ip + 24, 16) : std::span<const uint8_t>(ip + 16, 4);
}

void set_ipv4_header_checksum(uint8_t* ip, size_t iph_len) {
  put_be16(ip + 10, 0);
  put_be16(ip + 10, checksum({ip, iph_len}));
}

// Writes segment k of the super-packet described by `l` to dst: header from the template,
// lengths, IPv4 id, TCP sequence and flags, checksums.
void write_segment(const GsoLayout& l, const uint8_t* tmpl, std::span<const uint8_t> in, size_t k,
                   uint8_t* dst) {
  size_t off = l.hdr_len + k * l.gso_size;
  size_t len = std::min(l.gso_size, l.payload - std::min(l.payload, k * l.gso_size));
  if (dst + l.hdr_len != in.data() + off) std::memmove(dst + l.hdr_len, in.data() + off, len);
  std::memcpy(dst, tmpl, l.hdr_len);
  size_t seg = l.hdr_len + len;
  size_t tlen = seg - l.iph_len;
  if (l.v6) {
    put_be16(dst + 4, static_cast<uint16_t>(seg - 40));
  } else {
    put_be16(dst + 2, static_cast<uint16_t>(seg));
    put_be16(dst + 4, static_cast<uint16_t>(be16(tmpl + 4) + k));
    set_ipv4_header_checksum(dst, l.iph_len);
  }
  uint8_t* th = dst + l.iph_len;
  size_t csum_at;
  if (l.protocol == kProtoTcp) {
    put_be32(th + 4, static_cast<uint32_t>(be32(tmpl + l.iph_len + 4) + k * l.gso_size));
    constexpr uint8_t kFin = 0x01, kPsh = 0x08, kCwr = 0x80;
    // As the kernel segments: FIN and PSH belong to the last segment, CWR to the first.
    if (k + 1 != l.total) th[13] &= static_cast<uint8_t>(~(kFin | kPsh));
    if (k != 0) th[13] &= static_cast<uint8_t>(~kCwr);
    csum_at = 16;
  } else {
    put_be16(th + 4, static_cast<uint16_t>(tlen));
    csum_at = 6;
  }
  put_be16(th + csum_at, 0);
  uint64_t pseudo = pseudo_header_sum(src_addr(dst, l.v6), dst_addr(dst, l.v6), l.protocol,
                                      static_cast<uint32_t>(tlen));
  uint16_t c = checksum({th, tlen}, pseudo);
  if (c == 0 && l.protocol == kProtoUdp) c = 0xffff;  // 0 means "no checksum" for UDP
  put_be16(th + csum_at, c);
}

// ---- coalesce ----

constexpr uint8_t kTcpFin = 0x01, kTcpPsh = 0x08, kTcpAck = 0x10;
constexpr size_t kChunk = 128;

// A packet that may take part in a super-packet: plain IPv4 (no options, no fragment) or IPv6
// (no extension header) carrying TCP with only ACK/PSH, or UDP, with a payload.
struct Candidate {
  bool v6 = false;
  uint8_t protocol = 0;
  uint16_t iph_len = 0;
  uint16_t th_len = 0;
  uint32_t payload = 0;
};

bool parse_candidate(std::span<const uint8_t> b, bool udp, Candidate& c) {
  if (b.size() < 20) return false;
  int version = b[0] >> 4;
  if (version == 4) {
    if (b[0] != 0x45 || be16(&b[2]) != b.size() || (be16(&b[6]) & 0x3fff) != 0) return false;
    c.protocol = b[9];
    c.iph_len = 20;
  } else if (version == 6) {
    if (b.size() < 40 || size_t{be16(&b[4])} + 40 != b.size()) return false;
    c.v6 = true;
    c.protocol = b[6];
    c.iph_len = 40;
  } else {
    return false;
  }
  if (c.protocol == kProtoTcp) {
    if (b.size() < size_t{c.iph_len} + 20) return false;
    c.th_len = static_cast<uint16_t>((b[c.iph_len + 12] >> 4) * 4);
    if (c.th_len < 20 || size_t{c.iph_len} + c.th_len > b.size()) return false;
    uint8_t flags = b[c.iph_len + 13];
    if ((flags & kTcpAck) == 0 || (flags & ~(kTcpAck | kTcpPsh)) != 0) return false;
  } else if (c.protocol == kProtoUdp && udp) {
    c.th_len = 8;
    if (b.size() < size_t{c.iph_len} + 8 || be16(&b[c.iph_len + 4]) != b.size() - c.iph_len)
      return false;
    if (!c.v6 && be16(&b[c.iph_len + 6]) == 0) return false;  // no checksum: nothing to verify
  } else {
    return false;
  }
  c.payload = static_cast<uint32_t>(b.size() - c.iph_len - c.th_len);
  return c.payload > 0;
}

bool checksums_valid(std::span<const uint8_t> b, const Candidate& c) {
  if (!c.v6 && checksum(b.subspan(0, 20)) != 0) return false;
  uint64_t pseudo = pseudo_header_sum(src_addr(b.data(), c.v6), dst_addr(b.data(), c.v6),
                                      c.protocol, static_cast<uint32_t>(b.size() - c.iph_len));
  return checksum(b.subspan(c.iph_len), pseudo) == 0;
}

// A super-packet being built: its first packet, and the others chained to it through `next`.
struct Flow {
  uint32_t index = 0;  // packets[index] is the first segment; its headers lead the super-packet
  uint32_t last = 0;   // the packet chained last
  uint32_t write = 0;  // its TunWrite
  Candidate c;
  uint32_t gso_size = 0;  // payload of the first segment: the size of every segment but the last
  uint32_t size = 0;      // bytes of the super-packet so far
  uint32_t count = 1;
  uint32_t next_seq = 0;
  uint16_t next_id = 0;
  bool open = true;
  int verified = -1;  // checked lazily, only once a second packet wants to join
};

bool same_flow(std::span<const uint8_t> a, const Candidate& ca, std::span<const uint8_t> b,
               const Candidate& cb) {
  if (ca.v6 != cb.v6 || ca.protocol != cb.protocol) return false;
  size_t addr_at = ca.v6 ? 8 : 12, addr_len = ca.v6 ? 32 : 8;
  return std::memcmp(&a[addr_at], &b[addr_at], addr_len) == 0 &&
         std::memcmp(&a[ca.iph_len], &b[cb.iph_len], 4) == 0;  // ports
}

bool can_join(const Flow& f, std::span<const uint8_t> head, std::span<const uint8_t> p,
              const Candidate& c) {
  if (!f.open || f.count >= kMaxCoalesceSegments || c.payload > f.gso_size) return false;
  if (size_t{f.size} + c.payload > 65535) return false;
  if (c.v6) {
    if (std::memcmp(&head[0], &p[0], 4) != 0 || head[7] != p[7]) return false;
  } else {
    // tos, DF, ttl equal; the id continues unless DF allows any.
    if (head[1] != p[1] || head[6] != p[6] || head[7] != p[7] || head[8] != p[8]) return false;
    bool df = (head[6] & 0x40) != 0;
    if (!df && be16(&p[4]) != f.next_id) return false;
  }
  if (c.protocol == kProtoTcp) {
    const uint8_t* ht = &head[f.c.iph_len];
    const uint8_t* pt = &p[c.iph_len];
    if (c.th_len != f.c.th_len || be32(pt + 4) != f.next_seq) return false;
    if (std::memcmp(ht + 8, pt + 8, 5) != 0) return false;                // ack, data offset
    if (std::memcmp(ht + 14, pt + 14, 2) != 0) return false;              // window
    if (std::memcmp(ht + 18, pt + 18, c.th_len - 18) != 0) return false;  // urgent, options
  }
  return true;
}

void finish_flow(const Flow& f, Packet& head, TunWrite& w) {
  uint8_t* b = head.base + head.offset;
  size_t tlen = f.size - f.c.iph_len;
  w.count = f.count;
  if (f.c.v6) {
    put_be16(b + 4, static_cast<uint16_t>(f.size - 40));
  } else {
    put_be16(b + 2, static_cast<uint16_t>(f.size));
    set_ipv4_header_checksum(b, f.c.iph_len);
  }
  uint8_t* th = b + f.c.iph_len;
  bool tcp = f.c.protocol == kProtoTcp;
  if (!tcp) put_be16(th + 4, static_cast<uint16_t>(tlen));
  // NEEDS_CSUM: the field holds the pseudo-header sum, the kernel adds the rest.
  uint64_t pseudo = pseudo_header_sum(src_addr(b, f.c.v6), dst_addr(b, f.c.v6), f.c.protocol,
                                      static_cast<uint32_t>(tlen));
  put_be16(th + (tcp ? 16 : 6), checksum_fold(pseudo));
  w.hdr.flags = kFlagNeedsCsum;
  w.hdr.gso_type = tcp ? (f.c.v6 ? kGsoTcpV6 : kGsoTcpV4) : kGsoUdpL4;
  w.hdr.hdr_len = static_cast<uint16_t>(f.c.iph_len + f.c.th_len);
  w.hdr.gso_size = static_cast<uint16_t>(f.gso_size);
  w.hdr.csum_start = f.c.iph_len;
  w.hdr.csum_offset = tcp ? 16 : 6;
}

size_t coalesce_chunk(std::span<Packet> packets, uint32_t base, const CoalesceOptions& options,
                      std::span<TunWrite> writes, std::span<uint32_t> next) {
  Flow flows[kChunk];
  size_t nflows = 0, nwrites = 0;
  for (size_t i = 0; i < packets.size(); i++) {
    Packet& p = packets[i];
    next[i] = kEndOfWrite;
    std::span<const uint8_t> pb = p.bytes();
    Candidate c;
    bool candidate =
        p.capacity >= p.offset && p.size <= room(p) && parse_candidate(pb, options.udp, c);
    if (candidate) {
      Flow* flow = nullptr;
      for (size_t k = nflows; k-- > 0;) {
        Packet& h = packets[flows[k].index - base];
        if (same_flow(h.bytes(), flows[k].c, pb, c)) {
          flow = &flows[k];
          break;
        }
      }
      if (flow) {
        Packet& h = packets[flow->index - base];
        if (can_join(*flow, h.bytes(), pb, c)) {
          // The first segment is verified before anything is appended to it.
          if (flow->verified < 0) flow->verified = checksums_valid(h.bytes(), flow->c);
          if (!flow->verified) flow->open = false;
          if (flow->verified && checksums_valid(pb, c)) {
            next[flow->last - base] = static_cast<uint32_t>(base + i);
            flow->last = static_cast<uint32_t>(base + i);
            flow->size += c.payload;
            flow->count++;
            flow->next_seq += c.payload;
            flow->next_id++;
            bool psh = c.protocol == kProtoTcp && (pb[c.iph_len + 13] & kTcpPsh) != 0;
            if (psh) h.base[h.offset + c.iph_len + 13] |= kTcpPsh;
            if (psh || c.payload < flow->gso_size) flow->open = false;
            continue;
          }
        }
      }
      Flow& f = flows[nflows++];
      f = Flow{};
      f.index = f.last = static_cast<uint32_t>(base + i);
      f.write = static_cast<uint32_t>(nwrites);
      f.c = c;
      f.gso_size = c.payload;
      f.size = p.size;
      if (c.protocol == kProtoTcp) {
        f.next_seq = be32(&pb[c.iph_len + 4]) + c.payload;
        f.open = (pb[c.iph_len + 13] & (kTcpPsh | kTcpFin)) == 0;
      }
      if (!c.v6) f.next_id = static_cast<uint16_t>(be16(&pb[4]) + 1);
    }
    writes[nwrites++] = TunWrite{static_cast<uint32_t>(base + i), 1, VirtioNetHdr{}};
  }
  for (size_t k = 0; k < nflows; k++)
    if (flows[k].count > 1)
      finish_flow(flows[k], packets[flows[k].index - base], writes[flows[k].write]);
  return nwrites;
}

}  // namespace

VirtioNetHdr VirtioNetHdr::decode(std::span<const uint8_t, 10> b) {
  VirtioNetHdr h;
  h.flags = b[0];
  h.gso_type = b[1];
  h.hdr_len = load_host16(&b[2]);
  h.gso_size = load_host16(&b[4]);
  h.csum_start = load_host16(&b[6]);
  h.csum_offset = load_host16(&b[8]);
  return h;
}

void VirtioNetHdr::encode(std::span<uint8_t, 10> b) const {
  b[0] = flags;
  b[1] = gso_type;
  store_host16(&b[2], hdr_len);
  store_host16(&b[4], gso_size);
  store_host16(&b[6], csum_start);
  store_host16(&b[8], csum_offset);
}

uint64_t checksum_add(std::span<const uint8_t> bytes, uint64_t sum) {
  uint16_t s = native_sum16(bytes.data(), bytes.size());
  if constexpr (std::endian::native == std::endian::little)
    s = static_cast<uint16_t>(s << 8 | s >> 8);
  return sum + s;
}

uint16_t checksum_fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

uint64_t pseudo_header_sum(std::span<const uint8_t> src, std::span<const uint8_t> dst,
                           uint8_t protocol, uint32_t length) {
  return checksum_add(dst, checksum_add(src)) + protocol + (length >> 16) + (length & 0xffff);
}

uint16_t checksum(std::span<const uint8_t> bytes, uint64_t initial) {
  return static_cast<uint16_t>(~checksum_fold(checksum_add(bytes, initial)));
}

size_t gso_segment_count(const VirtioNetHdr& hdr, std::span<const uint8_t> in) {
  if (hdr.gso_type == kGsoNone) {
    if ((hdr.flags & kFlagNeedsCsum) != 0 &&
        size_t{hdr.csum_start} + hdr.csum_offset + 2 > in.size())
      return 0;
    return 1;
  }
  GsoLayout l;
  return gso_layout(hdr, in, l) == SplitStatus::kOk ? l.total : 0;
}

SplitResult gso_split(const VirtioNetHdr& hdr, std::span<uint8_t> in, std::span<Packet> out,
                      size_t first) {
  if (hdr.gso_type == kGsoNone) return split_none(hdr, in, out, first);
  GsoLayout l;
  if (SplitStatus s = gso_layout(hdr, in, l); s != SplitStatus::kOk) return {s, 0, 0};
  if (first >= l.total) return {SplitStatus::kOk, 0, l.total};
  size_t n = std::min(l.total - first, out.size());
  // Validate every destination before writing any, so a failure leaves the input intact.
  for (size_t j = 0; j < n; j++) {
    size_t k = first + j;
    size_t len = l.hdr_len + std::min(l.gso_size, l.payload - std::min(l.payload, k * l.gso_size));
    const Packet& o = out[j];
    if (room(o) < len) return {SplitStatus::kNoRoom, 0, l.total};
    const uint8_t* dst = o.base + o.offset;
    bool in_place = j == 0 && k == 0 && dst == in.data();
    if (!in_place && ranges_overlap(dst, len, in.data(), in.size()))
      return {SplitStatus::kNoRoom, 0, l.total};
  }
  uint8_t tmpl[60 + 60];
  std::memcpy(tmpl, in.data(), l.hdr_len);
  // Later segments first: the in-place first segment overwrites the front of `in`.
  for (size_t j = n; j-- > 0;) {
    Packet& o = out[j];
    size_t k = first + j;
    write_segment(l, tmpl, in, k, o.base + o.offset);
    o.size = static_cast<uint32_t>(
        l.hdr_len + std::min(l.gso_size, l.payload - std::min(l.payload, k * l.gso_size)));
  }
  return {SplitStatus::kOk, n, l.total};
}

size_t coalesce(std::span<Packet> packets, const CoalesceOptions& options,
                std::span<TunWrite> writes, std::span<uint32_t> next) {
  size_t n = 0;
  const size_t limit = std::min(packets.size(), next.size());
  for (size_t at = 0; at < limit && n < writes.size(); at += kChunk) {
    size_t len = std::min(kChunk, limit - at);
    len = std::min(len, writes.size() - n);
    n += coalesce_chunk(packets.subspan(at, len), static_cast<uint32_t>(at), options,
                        writes.subspan(n), next.subspan(at, len));
  }
  return n;
}

size_t write_pieces(std::span<const Packet> packets, std::span<const uint32_t> next,
                    const TunWrite& w, std::span<iovec> out) {
  if (out.empty() || w.index >= packets.size()) return 0;
  const Packet& head = packets[w.index];
  out[0] = {head.base + head.offset, head.size};
  size_t n = 1;
  if (w.hdr.gso_type == kGsoNone) return w.count == 1 ? n : 0;
  // Every packet chained to the head has the head's header length: only its payload goes.
  for (uint32_t k = w.index < next.size() ? next[w.index] : kEndOfWrite;
       k < packets.size() && k < next.size() && n < out.size() && n < w.count; k = next[k]) {
    const Packet& p = packets[k];
    if (p.size < w.hdr.hdr_len) return 0;
    out[n++] = {p.base + p.offset + w.hdr.hdr_len, p.size - w.hdr.hdr_len};
  }
  return n == w.count ? n : 0;
}

}  // namespace wgnet::engine::offload
