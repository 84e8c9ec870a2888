// Fuzzes the engine's TUN offloads (engine/offload.h). Input 's': a virtio-net header and a
// super-packet, split into segments (gso_split; optionally in place, small outputs); input 'c':
// packets to coalesce. Checks: lengths and checksums of every segment, gso_segment_count agrees
// with gso_split, nothing written past a buffer, and every coalesced write splits back into
// exactly the packets it took (up to IPv4 ids under DF and equivalent checksum encodings).
#include <memory>
#include <vector>

#include "engine/linux/offload.h"
#include "fuzz_util.h"

using namespace wgnet;
using namespace wgnet::engine;
using namespace wgnet::engine::offload;
using Bytes = std::vector<uint8_t>;

namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// Buffers of exact capacity, so a write past one is a heap overflow ASan reports.
class Buffers {
 public:
  Packet make(size_t capacity, size_t offset = kHeadroom) {
    store_.emplace_back(new uint8_t[capacity]);
    return Packet{store_.back().get(), static_cast<uint32_t>(capacity),
                  static_cast<uint32_t>(std::min(offset, capacity)), 0};
  }
  Packet make(const Bytes& bytes, size_t extra) {
    Packet p = make(kHeadroom + bytes.size() + extra);
    std::copy(bytes.begin(), bytes.end(), p.base + p.offset);
    p.size = static_cast<uint32_t>(bytes.size());
    return p;
  }

 private:
  std::vector<std::unique_ptr<uint8_t[]>> store_;
};

Bytes bytes_of(const Packet& p) { return {p.base + p.offset, p.base + p.offset + p.size}; }

// Lengths and checksums of a segment gso_split produced from a TCP/UDP super-packet.
void check_segment(const Bytes& b) {
  FUZZ_CHECK(b.size() >= 20 && b.size() <= 65535);
  const bool v6 = (b[0] >> 4) == 6;
  const size_t iph = v6 ? 40 : size_t{b[0] & 15u} * 4;
  FUZZ_CHECK(b.size() >= iph + 8);
  if (v6) {
    FUZZ_CHECK(size_t{be16(&b[4])} + 40 == b.size());
  } else {
    FUZZ_CHECK(be16(&b[2]) == b.size());
    FUZZ_CHECK(checksum({b.data(), iph}) == 0);
  }
  const uint8_t proto = v6 ? b[6] : b[9];
  const size_t tlen = b.size() - iph;
  if (proto == kProtoUdp) FUZZ_CHECK(be16(&b[iph + 4]) == tlen);
  const auto src = v6 ? std::span(&b[8], 16) : std::span(&b[12], 4);
  const auto dst = v6 ? std::span(&b[24], 16) : std::span(&b[16], 4);
  FUZZ_CHECK(checksum({&b[iph], tlen}, pseudo_header_sum(src, dst, proto, tlen)) == 0);
}

// `seg` carries what `orig` carried: equal but for the IPv4 id (free under DF), the IPv4 header
// checksum and the transport checksum (0x0000 and 0xffff both encode zero), all verified apart.
bool equivalent(const Bytes& seg, const Bytes& orig) {
  if (seg.size() != orig.size()) return false;
  Bytes a = seg, b = orig;
  const bool v6 = (a[0] >> 4) == 6;
  const size_t iph = v6 ? 40 : 20;
  if (!v6) {
    if (b[6] & 0x40) a[4] = b[4], a[5] = b[5];
    a[10] = b[10], a[11] = b[11];
  }
  const size_t field = iph + ((v6 ? a[6] : a[9]) == kProtoTcp ? 16 : 6);
  auto zero = [](uint8_t x, uint8_t y) { return (x == 0 && y == 0) || (x == 0xff && y == 0xff); };
  if (zero(a[field], a[field + 1]) && zero(b[field], b[field + 1]))
    a[field] = b[field], a[field + 1] = b[field + 1];
  return a == b;
}

// The bytes a write carries after its virtio-net header, from write_pieces.
Bytes written(std::span<const Packet> packets, std::span<const uint32_t> next, const TunWrite& w) {
  iovec iov[kMaxCoalesceSegments];
  const size_t n = write_pieces(packets, next, w, iov);
  FUZZ_CHECK(n == w.count);
  Bytes out;
  for (size_t i = 0; i < n; i++) {
    const auto* b = static_cast<const uint8_t*>(iov[i].iov_base);
    out.insert(out.end(), b, b + iov[i].iov_len);
  }
  return out;
}

// Coalesces `raw` and checks that each write splits back into the packets it took, in order.
// The packets lie in one buffer of exactly their size, packet i followed by gap[i] bytes (0:
// adjacent slices, as GRO segments arrive): a write past a packet lands in its neighbour or
// past the buffer, which the checks below or the sanitizers see.
void check_coalesce(const std::vector<Bytes>& raw, const std::vector<size_t>& gap, bool udp) {
  size_t total = kHeadroom;
  for (size_t i = 0; i < raw.size(); i++) total += raw[i].size() + gap[i];
  std::unique_ptr<uint8_t[]> buffer(new uint8_t[total]);
  std::vector<Packet> packets;
  size_t at = kHeadroom;
  for (size_t i = 0; i < raw.size(); i++) {
    std::copy(raw[i].begin(), raw[i].end(), buffer.get() + at);
    packets.push_back(Packet{buffer.get(), static_cast<uint32_t>(at + raw[i].size()),
                             static_cast<uint32_t>(at), static_cast<uint32_t>(raw[i].size())});
    at += raw[i].size() + gap[i];
  }
  std::vector<TunWrite> writes(packets.size());
  std::vector<uint32_t> next(packets.size());
  const size_t n = coalesce(packets, CoalesceOptions{udp}, writes, next);
  FUZZ_CHECK(n <= packets.size());
  std::vector<bool> used(raw.size(), false), head(raw.size(), false);
  for (size_t w = 0; w < n; w++) FUZZ_CHECK(writes[w].index < packets.size());
  for (size_t w = 0; w < n; w++) head[writes[w].index] = true;
  // Only a write's first packet has its headers rewritten; every other keeps its bytes.
  for (size_t i = 0; i < raw.size(); i++)
    if (!head[i]) FUZZ_CHECK(bytes_of(packets[i]) == raw[i]);
  for (size_t w = 0; w < n; w++) {
    const TunWrite& tw = writes[w];
    FUZZ_CHECK(!used[tw.index]);
    used[tw.index] = true;
    const Bytes copy = written(packets, next, tw);
    if (tw.hdr.gso_type == kGsoNone) {
      FUZZ_CHECK(tw.hdr == VirtioNetHdr{} && tw.count == 1);
      FUZZ_CHECK(copy == raw[tw.index]);
      continue;
    }
    FUZZ_CHECK(tw.hdr.flags == kFlagNeedsCsum);
    FUZZ_CHECK(copy.size() <= 65535);
    Bytes work = copy;
    Buffers out_bufs;
    std::vector<Packet> out;
    for (size_t k = 0; k < kMaxCoalesceSegments; k++) out.push_back(out_bufs.make(kBufferSize));
    const SplitResult r = gso_split(tw.hdr, work, out);
    FUZZ_CHECK(r.status == SplitStatus::kOk && r.emitted == r.total);
    FUZZ_CHECK(r.total >= 2 && r.total <= kMaxCoalesceSegments && r.total == tw.count);
    FUZZ_CHECK(gso_segment_count(tw.hdr, copy) == r.total);
    FUZZ_CHECK(equivalent(bytes_of(out[0]), raw[tw.index]));
    size_t k_at = tw.index;
    for (size_t k = 1; k < r.emitted; k++) {
      const Bytes seg = bytes_of(out[k]);
      check_segment(seg);
      while (++k_at < raw.size() && (used[k_at] || !equivalent(seg, raw[k_at]))) {
      }
      FUZZ_CHECK(k_at < raw.size());  // a segment that is none of the later inputs
      used[k_at] = true;
    }
  }
  for (bool u : used) FUZZ_CHECK(u);  // every packet written, alone or inside a super-packet
}

void fuzz_split(fuzz::Reader& in) {
  const size_t nout = in.u8() % kMaxCoalesceSegments + 1;
  const size_t first = in.u8() % 4;
  const uint8_t mode = in.u8();
  const bool in_place = mode & 1;
  const size_t out_capacity = mode & 2 ? 64 + size_t{in.u8()} * 16 : kBufferSize;
  std::array<uint8_t, kVirtioNetHdrLen> raw_hdr{};
  const auto h = in.bytes(kVirtioNetHdrLen);
  std::copy(h.begin(), h.end(), raw_hdr.begin());
  const VirtioNetHdr hdr = VirtioNetHdr::decode(raw_hdr);
  std::array<uint8_t, kVirtioNetHdrLen> again{};
  hdr.encode(again);
  FUZZ_CHECK(again == raw_hdr);
  const auto pkt = in.bytes(in.left());
  const Bytes orig(pkt.begin(), pkt.end());

  Buffers bufs;
  std::vector<Packet> out;
  Packet whole = bufs.make(kHeadroom + orig.size());  // the TUN read buffer
  std::copy(orig.begin(), orig.end(), whole.base + whole.offset);
  std::span<uint8_t> input(whole.base + whole.offset, orig.size());
  if (in_place) out.push_back(whole);
  while (out.size() < nout) out.push_back(bufs.make(out_capacity));
  const SplitResult r = gso_split(hdr, input, out, in_place ? 0 : first);
  const size_t count = gso_segment_count(hdr, orig);
  if (r.status == SplitStatus::kMalformed || r.status == SplitStatus::kUnsupported) {
    FUZZ_CHECK(count == 0 && r.emitted == 0);
    return;
  }
  FUZZ_CHECK(r.total == count && count >= 1);
  if (r.status == SplitStatus::kNoRoom) return;
  const size_t start = in_place ? 0 : first;
  FUZZ_CHECK(r.emitted == (start >= r.total ? 0 : std::min(r.total - start, out.size())));
  std::vector<Bytes> segs;
  for (size_t k = 0; k < r.emitted; k++) {
    FUZZ_CHECK(out[k].offset + out[k].size <= out[k].capacity);
    segs.push_back(bytes_of(out[k]));
  }
  if (hdr.gso_type == kGsoNone) {
    if (r.emitted == 0) return;
    FUZZ_CHECK(segs[0].size() == orig.size());
    if ((hdr.flags & kFlagNeedsCsum) && hdr.csum_offset % 2 == 0) {
      // The field held the pseudo-header sum; with it, the completed checksum verifies. (The
      // kernel's offsets are 6 and 16; an odd one gives a wrong sum, but never a wrong access.)
      const size_t field = size_t{hdr.csum_start} + hdr.csum_offset;
      const uint64_t pseudo = be16(&orig[field]);
      FUZZ_CHECK(checksum({&segs[0][hdr.csum_start], segs[0].size() - hdr.csum_start}, pseudo) ==
                 0);
    } else if (!(hdr.flags & kFlagNeedsCsum)) {
      FUZZ_CHECK(segs[0] == orig);
    }
    return;
  }
  for (const Bytes& s : segs) check_segment(s);
  // What the kernel would have sent goes back through coalescing (TUN writes) intact.
  if (start == 0 && r.emitted == r.total)
    check_coalesce(segs, std::vector<size_t>(segs.size(), 0), true);
}

void fuzz_coalesce(fuzz::Reader& in) {
  const bool udp = in.u8() & 1;
  std::vector<Bytes> raw;
  std::vector<size_t> gap;
  while (!in.empty() && raw.size() < 200) {
    const auto b = in.chunk();
    raw.emplace_back(b.begin(), b.end());
    gap.push_back(size_t{in.u8()} * 64);
  }
  check_coalesce(raw, gap, udp);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  switch (in.u8()) {
    case 's':
      fuzz_split(in);
      break;
    case 'c':
      fuzz_coalesce(in);
      break;
    default:
      break;
  }
  return 0;
}
