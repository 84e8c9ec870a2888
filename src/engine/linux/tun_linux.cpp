// /dev/net/tun for the engine: device set-up (flags, offloads, persistence, alias, queue length)
// and batched reads and writes around offload's split and coalesce.
#include "engine/linux/tun_linux.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "netlink/rtnl.h"
#include "util/error.h"

namespace wgnet::engine {

namespace {

// Not yet in Debian 12's <linux/if_tun.h> (Linux 6.2+).
constexpr unsigned kTunFUso4 = 0x20;
constexpr unsigned kTunFUso6 = 0x40;
constexpr unsigned kTsoOffloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;

// Descriptor errors that mean the device went away under us.
bool device_gone(int error) { return error == EBADFD || error == ENXIO || error == ENODEV; }

size_t room(const Packet& p) { return p.capacity >= p.offset ? p.capacity - p.offset : 0; }

}  // namespace

TunLinux::TunLinux(Fd fd, const TunOptions& options)
    : fd_(std::move(fd)), batch_(std::max<size_t>(1, options.batch)) {}

std::unique_ptr<TunLinux> TunLinux::create(const TunOptions& options) {
  if (!options.name.empty()) netlink::rtnl::check_ifname(options.name);
  return open_device(options.name, true, options);
}

std::unique_ptr<TunLinux> TunLinux::attach(std::string_view name, const TunOptions& options) {
  netlink::rtnl::check_ifname(name);
  // TUNSETIFF would create a missing device: make sure it is there, and a TUN.
  auto link = netlink::rtnl::find_link(name);
  if (!link) throw SystemError("attach to TUN " + std::string(name) + ": no such device here");
  if (link->kind != "tun")
    throw SystemError("attach to TUN " + std::string(name) + ": it is a '" + link->kind +
                      "' device");
  return open_device(name, false, options);
}

std::unique_ptr<TunLinux> TunLinux::attach_by_alias(std::string_view alias,
                                                    const TunOptions& options) {
  auto link = netlink::rtnl::find_link_by_alias(alias);
  if (!link) return nullptr;
  return attach(link->name, options);
}

std::unique_ptr<TunLinux> TunLinux::open_device(std::string_view name, bool exclusive,
                                                const TunOptions& options) {
  std::string what = "TUN " + (name.empty() ? std::string("device") : std::string(name));
  Fd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd) throw SystemError("open /dev/net/tun: " + errno_text(errno));
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), std::min(name.size(), sizeof ifr.ifr_name - 1));
  short base = IFF_TUN | IFF_NO_PI | (exclusive ? IFF_TUN_EXCL : 0);
  ifr.ifr_flags = static_cast<short>(base | (options.offloads ? IFF_VNET_HDR : 0));
  int rc = ::ioctl(fd.get(), TUNSETIFF, &ifr);
  if (rc != 0 && errno == EINVAL && options.offloads) {
    // A kernel without IFF_VNET_HDR (or one refusing it): plain packets still work.
    ifr.ifr_flags = base;
    rc = ::ioctl(fd.get(), TUNSETIFF, &ifr);
  }
  if (rc != 0) {
    int e = errno;
    if (e == EBUSY && exclusive) throw SystemError(what + ": the name is taken");
    if (e == EBUSY) throw SystemError(what + ": another process has it open");
    throw SystemError("TUNSETIFF " + what + ": " + errno_text(e));
  }
  std::unique_ptr<TunLinux> tun(new TunLinux(std::move(fd), options));
  tun->features_.vnet_hdr = (ifr.ifr_flags & IFF_VNET_HDR) != 0;
  tun->configure(options);
  return tun;
}

void TunLinux::configure(const TunOptions& options) {
  if (features_.vnet_hdr) {
    // The header size belongs to the device: a persistent one may have been left with another.
    int hdr_size = static_cast<int>(offload::kVirtioNetHdrLen);
    if (::ioctl(fd_.get(), TUNSETVNETHDRSZ, &hdr_size) != 0)
      throw SystemError("TUNSETVNETHDRSZ: " + errno_text(errno));
    // The newest set first; each refusal (EINVAL) falls back to the next.
    if (::ioctl(fd_.get(), TUNSETOFFLOAD, kTsoOffloads | kTunFUso4 | kTunFUso6) == 0) {
      features_.tso = features_.uso = true;
    } else if (::ioctl(fd_.get(), TUNSETOFFLOAD, kTsoOffloads) == 0) {
      features_.tso = true;
    } else if (::ioctl(fd_.get(), TUNSETOFFLOAD, 0u) != 0) {
      throw SystemError("TUNSETOFFLOAD: " + errno_text(errno));
    }
  }
  if (options.owner &&
      ::ioctl(fd_.get(), TUNSETOWNER, static_cast<unsigned long>(*options.owner)) != 0)
    throw SystemError("TUNSETOWNER: " + errno_text(errno));
  std::string n = name();
  if (options.mtu != 0) netlink::rtnl::set_mtu(n, options.mtu);
  if (options.txqueuelen != 0) netlink::rtnl::set_txqueuelen(n, options.txqueuelen);
  if (!options.alias.empty()) netlink::rtnl::set_alias(n, options.alias);
  auto link = netlink::rtnl::find_link(n);
  if (!link) throw SystemError("TUN " + n + " vanished while it was set up");
  take_mtu(link->mtu);
  // Last: a set-up that failed above leaves no persistent device behind.
  if (options.persist) set_persist(true);
}

void TunLinux::take_mtu(uint32_t mtu) {
  mtu_.store(mtu, std::memory_order_relaxed);
  reserve_ = 65535 / std::max<uint32_t>(mtu > 60 ? mtu - 60 : 1, 1) + 1;
}

std::unique_ptr<TunLinux> TunLinux::adopt(Fd fd, const TunFeatures& features, uint32_t mtu,
                                          size_t batch) {
  ifreq ifr{};
  if (!fd || ::ioctl(fd.get(), TUNGETIFF, &ifr) != 0)
    throw SystemError("adopt TUN: not an attached TUN descriptor: " + errno_text(errno));
  const std::string what =
      "adopt TUN " + std::string(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  if ((ifr.ifr_flags & (IFF_TUN | IFF_TAP | IFF_NO_PI)) != (IFF_TUN | IFF_NO_PI))
    throw SystemError(what + ": not a TUN without packet information");
  if (((ifr.ifr_flags & IFF_VNET_HDR) != 0) != features.vnet_hdr)
    throw SystemError(what + ": IFF_VNET_HDR is not as its features say");
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || !(flags & O_NONBLOCK)) throw SystemError(what + ": a blocking descriptor");
  TunOptions options;
  options.batch = batch;
  std::unique_ptr<TunLinux> tun(new TunLinux(std::move(fd), options));
  tun->features_ = features;
  tun->take_mtu(mtu);
  return tun;
}

TunHandoff TunLinux::release(std::unique_ptr<TunLinux> tun) {
  return {std::move(tun->fd_), tun->features_, tun->mtu()};
}

std::string TunLinux::name() const {
  ifreq ifr{};
  if (::ioctl(fd_.get(), TUNGETIFF, &ifr) != 0) {
    int e = errno;
    if (device_gone(e)) throw DeviceGone("TUN device is gone");
    throw SystemError("TUNGETIFF: " + errno_text(e));
  }
  return std::string(ifr.ifr_name, strnlen(ifr.ifr_name, sizeof ifr.ifr_name));
}

void TunLinux::set_persist(bool persist) {
  if (::ioctl(fd_.get(), TUNSETPERSIST, persist ? 1ul : 0ul) != 0)
    throw SystemError("TUNSETPERSIST: " + errno_text(errno));
}

TunStats TunLinux::stats() const {
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  const Counters& c = counters_;
  return {get(c.reads),  get(c.super_packets),   get(c.packets_read), get(c.read_dropped),
          get(c.writes), get(c.packets_written), get(c.coalesced),    get(c.write_dropped)};
}

void TunLinux::throw_read_error(int error) const {
  if (device_gone(error)) throw DeviceGone("TUN device is gone (" + errno_text(error) + ")");
  throw SystemError("read from TUN: " + errno_text(error));
}

// ---- reading ----

size_t TunLinux::read(std::span<Packet> packets) {
  size_t n = 0;
  if (has_pending()) n = read_pending(packets);
  while (n < packets.size()) {
    // Another read only when a whole super-packet is likely to fit: what is read and does not
    // fit must be copied aside.
    if (n > 0 && packets.size() - n < reserve_) break;
    auto got = read_one(packets.subspan(n));
    if (!got) break;
    n += *got;
    if (has_pending()) break;
  }
  if (n > 0) counters_.packets_read.fetch_add(n, std::memory_order_relaxed);
  return n;
}

std::optional<size_t> TunLinux::read_one(std::span<Packet> out) {
  Packet& p = out[0];
  uint8_t* data = p.base + p.offset;
  size_t cap = room(p);
  if (!features_.vnet_hdr) {
    ssize_t r;
    do r = ::read(fd_.get(), data, cap);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
      if (errno == EAGAIN) return std::nullopt;
      throw_read_error(errno);
    }
    counters_.reads.fetch_add(1, std::memory_order_relaxed);
    p.size = static_cast<uint32_t>(r);
    return 1;
  }
  // The header goes to a buffer of its own: the packet lands exactly at its offset.
  uint8_t hb[offload::kVirtioNetHdrLen];
  iovec iov[2] = {{hb, sizeof hb}, {data, cap}};
  ssize_t r;
  do r = ::readv(fd_.get(), iov, 2);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == EAGAIN) return std::nullopt;
    throw_read_error(errno);
  }
  counters_.reads.fetch_add(1, std::memory_order_relaxed);
  size_t len = static_cast<size_t>(r);
  // A read that fills the buffer may have been cut short: never pass on a truncated packet.
  if (len < sizeof hb || len - sizeof hb >= cap) {
    counters_.read_dropped.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  auto hdr = offload::VirtioNetHdr::decode(hb);
  std::span<uint8_t> in(data, len - sizeof hb);
  bool spill = false;
  if (hdr.gso_type != offload::kGsoNone) {
    counters_.super_packets.fetch_add(1, std::memory_order_relaxed);
    if (hdr.gso_size > 0) {
      reserve_ = 65535 / hdr.gso_size + 1;
      if (in.size() / hdr.gso_size + 1 > out.size()) {
        size_t total = offload::gso_segment_count(hdr, in);
        if (total > out.size()) {
          // Set aside before the first segment is written over the front of `in`.
          spill = true;
          pending_.assign(in.begin(), in.end());
          pending_hdr_ = hdr;
          pending_total_ = total;
        }
      }
    }
  }
  auto res = offload::gso_split(hdr, in, out);
  if (res.status != offload::SplitStatus::kOk || res.emitted == 0) {
    if (spill) std::vector<uint8_t>().swap(pending_);
    pending_next_ = pending_total_ = 0;
    counters_.read_dropped.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  if (spill) pending_next_ = res.emitted;
  return res.emitted;
}

size_t TunLinux::read_pending(std::span<Packet> out) {
  auto res = offload::gso_split(pending_hdr_, pending_, out, pending_next_);
  pending_next_ = res.status == offload::SplitStatus::kOk && res.emitted > 0
                      ? pending_next_ + res.emitted
                      : pending_total_;
  if (res.status != offload::SplitStatus::kOk)
    counters_.read_dropped.fetch_add(1, std::memory_order_relaxed);
  if (!has_pending()) {
    // The memory goes back: a device that saw one odd flow does not keep 64 KiB forever.
    std::vector<uint8_t>().swap(pending_);
    pending_next_ = pending_total_ = 0;
  }
  return res.status == offload::SplitStatus::kOk ? res.emitted : 0;
}

// ---- writing ----

void TunLinux::write_plain(std::span<Packet> packets) {
  uint64_t written = 0, dropped = 0;
  for (Packet& p : packets) {
    ssize_t r;
    do r = ::write(fd_.get(), p.base + p.offset, p.size);
    while (r < 0 && errno == EINTR);
    (r < 0 ? dropped : written)++;
  }
  counters_.writes.fetch_add(written, std::memory_order_relaxed);
  counters_.packets_written.fetch_add(written, std::memory_order_relaxed);
  if (dropped) counters_.write_dropped.fetch_add(dropped, std::memory_order_relaxed);
}

void TunLinux::write(std::span<Packet> packets) {
  if (!features_.vnet_hdr) return write_plain(packets);
  constexpr size_t kChunk = 128;
  offload::TunWrite writes[kChunk];
  uint32_t next[kChunk];
  offload::CoalesceOptions options{features_.uso};
  uint64_t syscalls = 0, written = 0, coalesced = 0, dropped = 0;
  for (size_t at = 0; at < packets.size(); at += kChunk) {
    auto chunk = packets.subspan(at, std::min(kChunk, packets.size() - at));
    // Super-packets only where the kernel accepted offloads: TUNSETOFFLOAD also tells whether
    // it knows the GSO types at all.
    size_t n = chunk.size();
    if (features_.tso)
      n = offload::coalesce(chunk, options, writes, next);
    else
      for (size_t i = 0; i < n; i++) writes[i] = {static_cast<uint32_t>(i), 1, {}};
    for (size_t w = 0; w < n; w++) {
      uint8_t hb[offload::kVirtioNetHdrLen];
      writes[w].hdr.encode(hb);
      // The header, then the packets' bytes where they lie (no copy into one buffer).
      iovec iov[offload::kMaxCoalesceSegments + 1];
      iov[0] = {hb, sizeof hb};
      const size_t pieces = offload::write_pieces(chunk, {next, chunk.size()}, writes[w],
                                                  {iov + 1, std::size(iov) - 1});
      const size_t carried = writes[w].count;
      ssize_t r = -1;
      if (pieces > 0) {
        do r = ::writev(fd_.get(), iov, static_cast<int>(pieces + 1));
        while (r < 0 && errno == EINTR);
        syscalls++;
      }
      if (r < 0) {
        dropped += carried;
        continue;
      }
      written += carried;
      if (carried > 1) coalesced += carried;
    }
  }
  counters_.writes.fetch_add(syscalls, std::memory_order_relaxed);
  counters_.packets_written.fetch_add(written, std::memory_order_relaxed);
  counters_.coalesced.fetch_add(coalesced, std::memory_order_relaxed);
  if (dropped) counters_.write_dropped.fetch_add(dropped, std::memory_order_relaxed);
}

}  // namespace wgnet::engine
