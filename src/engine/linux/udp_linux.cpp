// UDP for the engine: socket set-up with feature detection, recvmmsg with GRO splitting and
// pktinfo, sendmmsg with UDP_SEGMENT runs and a sticky source that falls back when it is gone.
#include "engine/linux/udp_linux.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "util/error.h"

namespace wgnet::engine {

namespace {

constexpr size_t kMaxMessages = 128;  // messages per recvmmsg/sendmmsg call
constexpr size_t kMaxSegments = 64;   // UDP_SEGMENT datagrams per message (and GRO's limit)
constexpr size_t kMaxIov = 1024;      // iovecs per sendmmsg call (UIO_MAXIOV)
// Bytes one UDP_SEGMENT message may carry: below both families' 64 KiB datagram limits.
constexpr size_t kMaxGsoBytes = 65000;
// Enough for IPV6_PKTINFO (or IP_PKTINFO) and UDP_GRO / UDP_SEGMENT.
constexpr size_t kControlSize = 128;
// How long a full socket buffer may hold a sender before the rest of its batch is dropped.
constexpr int kSendWaitMs = 10;

union SockAddr {
  sockaddr sa;
  sockaddr_in v4;
  sockaddr_in6 v6;
};

socklen_t to_sockaddr(const wg::Endpoint& ep, SockAddr& out) {
  out = SockAddr{};
  auto bytes = ep.address.bytes();
  if (ep.address.is_v4()) {
    out.v4.sin_family = AF_INET;
    out.v4.sin_port = htons(ep.port);
    std::memcpy(&out.v4.sin_addr, bytes.data(), 4);
    return sizeof out.v4;
  }
  out.v6.sin6_family = AF_INET6;
  out.v6.sin6_port = htons(ep.port);
  std::memcpy(&out.v6.sin6_addr, bytes.data(), 16);
  return sizeof out.v6;
}

bool from_sockaddr(const SockAddr& in, socklen_t len, wg::Endpoint& out) {
  if (in.sa.sa_family == AF_INET && len >= sizeof in.v4) {
    out.address = IpAddress::from_bytes({reinterpret_cast<const uint8_t*>(&in.v4.sin_addr), 4});
    out.port = ntohs(in.v4.sin_port);
    return true;
  }
  if (in.sa.sa_family == AF_INET6 && len >= sizeof in.v6) {
    out.address = IpAddress::from_bytes({reinterpret_cast<const uint8_t*>(&in.v6.sin6_addr), 16});
    out.port = ntohs(in.v6.sin6_port);
    return true;
  }
  return false;
}

bool set_int(int fd, int level, int name, int value) {
  return ::setsockopt(fd, level, name, &value, sizeof value) == 0;
}

void set_buffer(int fd, int force, int plain, int bytes) {
  // FORCE goes past net.core.[rw]mem_max but needs CAP_NET_ADMIN.
  if (!set_int(fd, SOL_SOCKET, force, bytes)) set_int(fd, SOL_SOCKET, plain, bytes);
}

struct Socket {
  Fd fd;
  bool gro = false;
  bool gso = false;
};

Socket make_socket(int family, const UdpOptions& options) {
  Socket s;
  s.fd = Fd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s.fd) return s;
  int fd = s.fd.get();
  if (family == AF_INET6 && !set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1))
    throw SystemError("IPV6_V6ONLY: " + errno_text(errno));
  bool pktinfo = family == AF_INET ? set_int(fd, IPPROTO_IP, IP_PKTINFO, 1)
                                   : set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
  if (!pktinfo) throw SystemError("enable pktinfo on UDP socket: " + errno_text(errno));
  set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, options.buffer_bytes);
  set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, options.buffer_bytes);
  if (options.mark != 0 && !set_int(fd, SOL_SOCKET, SO_MARK, static_cast<int>(options.mark)))
    throw SystemError("SO_MARK: " + errno_text(errno));
  if (options.gro) s.gro = set_int(fd, SOL_UDP, UDP_GRO, 1);
  if (options.gso) {
    // Reading the option succeeds exactly when the kernel knows UDP_SEGMENT (Linux 4.18+).
    int v = 0;
    socklen_t len = sizeof v;
    s.gso = ::getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &len) == 0;
  }
  return s;
}

// Binds to `port`; returns the errno on failure.
int bind_port(int fd, int family, uint16_t port) {
  SockAddr a{};
  socklen_t len;
  if (family == AF_INET) {
    a.v4.sin_family = AF_INET;
    a.v4.sin_port = htons(port);
    len = sizeof a.v4;
  } else {
    a.v6.sin6_family = AF_INET6;
    a.v6.sin6_port = htons(port);
    len = sizeof a.v6;
  }
  return ::bind(fd, &a.sa, len) == 0 ? 0 : errno;
}

uint16_t bound_port(int fd) {
  SockAddr a{};
  socklen_t len = sizeof a;
  if (::getsockname(fd, &a.sa, &len) != 0) throw SystemError("getsockname: " + errno_text(errno));
  return ntohs(a.sa.sa_family == AF_INET ? a.v4.sin_port : a.v6.sin6_port);
}

size_t room(const Packet& p) { return p.capacity >= p.offset ? p.capacity - p.offset : 0; }

// The local address and interface a datagram arrived on, and its GRO segment size.
struct Arrival {
  std::optional<IpAddress> local;
  int ifindex = 0;
  size_t gso_size = 0;
};

Arrival parse_control(msghdr& h) {
  Arrival a;
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
    const auto* data = CMSG_DATA(c);
    size_t len = c->cmsg_len - CMSG_LEN(0);
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && len >= sizeof(in_pktinfo)) {
      in_pktinfo pi;
      std::memcpy(&pi, data, sizeof pi);
      // spec_dst: the local address to answer from (differs from the header's for broadcasts).
      a.local = IpAddress::from_bytes({reinterpret_cast<const uint8_t*>(&pi.ipi_spec_dst), 4});
      a.ifindex = pi.ipi_ifindex;
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
               len >= sizeof(in6_pktinfo)) {
      in6_pktinfo pi;
      std::memcpy(&pi, data, sizeof pi);
      a.local = IpAddress::from_bytes({reinterpret_cast<const uint8_t*>(&pi.ipi6_addr), 16});
      a.ifindex = static_cast<int>(pi.ipi6_ifindex);
    } else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && len >= sizeof(int)) {
      int size;
      std::memcpy(&size, data, sizeof size);
      if (size > 0) a.gso_size = static_cast<size_t>(size);
    }
  }
  return a;
}

bool link_local(const IpAddress& a) {
  auto b = a.bytes();
  return a.is_v6() && b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

// Appends the source-address control message for `to.local`.
size_t put_source(uint8_t* control, const NetEndpoint& to) {
  auto* c = reinterpret_cast<cmsghdr*>(control);
  auto bytes = to.local->bytes();
  if (to.local->is_v4()) {
    in_pktinfo pi{};
    std::memcpy(&pi.ipi_spec_dst, bytes.data(), 4);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof pi);
    std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
    return CMSG_SPACE(sizeof pi);
  }
  in6_pktinfo pi{};
  std::memcpy(&pi.ipi6_addr, bytes.data(), 16);
  // The interface only matters (and is only trusted) for a link-local source.
  if (link_local(*to.local)) pi.ipi6_ifindex = static_cast<unsigned>(to.local_ifindex);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof pi);
  std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
  return CMSG_SPACE(sizeof pi);
}

size_t put_segment(uint8_t* control, uint16_t size) {
  auto* c = reinterpret_cast<cmsghdr*>(control);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof size);
  std::memcpy(CMSG_DATA(c), &size, sizeof size);
  return CMSG_SPACE(sizeof size);
}

// Throws unless `fd` is a socket as make_socket() makes them for `family`, bound to `port`.
void check_adopted(int fd, int family, uint16_t port) {
  const std::string what =
      std::string("adopt UDP socket (") + (family == AF_INET ? "IPv4" : "IPv6") + ")";
  auto get = [&](int level, int name) {
    int v = 0;
    socklen_t len = sizeof v;
    if (::getsockopt(fd, level, name, &v, &len) != 0)
      throw SystemError(what + ": not a socket: " + errno_text(errno));
    return v;
  };
  if (get(SOL_SOCKET, SO_DOMAIN) != family || get(SOL_SOCKET, SO_TYPE) != SOCK_DGRAM ||
      get(SOL_SOCKET, SO_PROTOCOL) != IPPROTO_UDP)
    throw SystemError(what + ": not a UDP socket of that family");
  const bool pktinfo = family == AF_INET ? get(IPPROTO_IP, IP_PKTINFO)
                                         : get(IPPROTO_IPV6, IPV6_RECVPKTINFO);
  if (!pktinfo) throw SystemError(what + ": pktinfo is off");
  if (family == AF_INET6 && !get(IPPROTO_IPV6, IPV6_V6ONLY))
    throw SystemError(what + ": not IPv6-only");
  if (bound_port(fd) != port)
    throw SystemError(what + ": bound to port " + std::to_string(bound_port(fd)) + ", not " +
                      std::to_string(port));
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || !(flags & O_NONBLOCK)) throw SystemError(what + ": a blocking descriptor");
}

// How many datagrams from `at` one UDP_SEGMENT message can carry: equal sizes, the last one may
// be shorter (and ends the run), at most kMaxSegments and kMaxGsoBytes.
size_t run_length(std::span<const Packet> d, size_t at) {
  size_t size = d[at].size;
  if (size == 0 || size > 65535) return 1;
  size_t n = 1, bytes = size;
  while (at + n < d.size() && n < kMaxSegments) {
    size_t next = d[at + n].size;
    if (next == 0 || next > size || bytes + next > kMaxGsoBytes) break;
    bytes += next;
    n++;
    if (next < size) break;
  }
  return n;
}

}  // namespace

UdpBindLinux::UdpBindLinux(Fd fd4, Fd fd6, uint16_t port, const UdpOptions& options)
    : fd4_(std::move(fd4)),
      fd6_(std::move(fd6)),
      port_(port),
      batch_(std::max<size_t>(1, options.batch)),
      mark_by_owner_(options.mark_by_owner),
      mark_(options.mark) {}

std::unique_ptr<UdpBindLinux> UdpBindLinux::open(uint16_t port, const UdpOptions& options) {
  // With port 0 the IPv6 socket may find the IPv4 socket's free port taken: try another.
  for (int attempt = 0; attempt < 100; attempt++) {
    Socket s4 = make_socket(AF_INET, options);
    if (!s4.fd) throw SystemError("UDP socket: " + errno_text(errno));
    if (int e = bind_port(s4.fd.get(), AF_INET, port))
      throw SystemError("bind UDP port " + std::to_string(port) + ": " + errno_text(e));
    uint16_t actual = bound_port(s4.fd.get());
    Socket s6;
    if (options.ipv6) {
      s6 = make_socket(AF_INET6, options);
      if (!s6.fd && errno != EAFNOSUPPORT) throw SystemError("UDP socket: " + errno_text(errno));
      if (s6.fd) {
        if (int e = bind_port(s6.fd.get(), AF_INET6, actual)) {
          if (e == EADDRINUSE && port == 0) continue;
          if (e != EADDRNOTAVAIL)
            throw SystemError("bind UDP port " + std::to_string(actual) +
                              " (IPv6): " + errno_text(e));
          s6 = Socket{};  // IPv6 is disabled here: IPv4 only
        }
      }
    }
    std::unique_ptr<UdpBindLinux> b(
        new UdpBindLinux(std::move(s4.fd), std::move(s6.fd), actual, options));
    b->ipv6_ = b->fd6_.get() >= 0;
    b->gro_ = s4.gro || s6.gro;
    b->gso_ = s4.gso && (!b->ipv6_ || s6.gso);
    return b;
  }
  throw SystemError("no UDP port free for both IPv4 and IPv6");
}

std::unique_ptr<UdpBindLinux> UdpBindLinux::adopt(Fd fd4, Fd fd6, uint16_t port,
                                                  const UdpFeatures& features,
                                                  const UdpOptions& options) {
  if (port == 0) throw SystemError("adopt UDP sockets: no port");
  if (!fd4) throw SystemError("adopt UDP sockets: no IPv4 socket");
  if (static_cast<bool>(fd6) != features.ipv6)
    throw SystemError("adopt UDP sockets: an IPv6 socket exactly when its features say IPv6");
  check_adopted(fd4.get(), AF_INET, port);
  if (fd6) check_adopted(fd6.get(), AF_INET6, port);
  std::unique_ptr<UdpBindLinux> b(new UdpBindLinux(std::move(fd4), std::move(fd6), port, options));
  b->ipv6_ = features.ipv6;
  b->gro_ = features.gro;
  b->gso_ = features.gso;
  return b;
}

void UdpBindLinux::set_mark(uint32_t mark) {
  mark_ = mark;
  if (mark_by_owner_) return;
  for (int fd : {fd4_.get(), fd6_.get()})
    if (fd >= 0 && !set_int(fd, SOL_SOCKET, SO_MARK, static_cast<int>(mark)))
      throw SystemError("SO_MARK: " + errno_text(errno));
}

UdpFeatures UdpBindLinux::features() const { return {ipv6_, gso_.load(), gro_}; }

std::vector<int> UdpBindLinux::poll_fds() const {
  std::vector<int> fds;
  for (int fd : {fd4_.get(), fd6_.get()})
    if (fd >= 0) fds.push_back(fd);
  return fds;
}

BindStats UdpBindLinux::stats() const {
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  const Counters& c = counters_;
  return {get(c.rx_datagrams),   get(c.rx_syscalls),  get(c.rx_coalesced),
          get(c.rx_dropped),     get(c.tx_datagrams), get(c.tx_syscalls),
          get(c.tx_gso_batches), get(c.tx_dropped),   get(c.tx_source_retries)};
}

// ---- receiving ----

size_t UdpBindLinux::receive(std::span<Packet> packets, std::span<NetEndpoint> from) {
  const size_t limit = std::min(packets.size(), from.size());
  int order[2] = {fd4_.get(), fd6_.get()};
  if (turn_.fetch_add(1, std::memory_order_relaxed) & 1) std::swap(order[0], order[1]);
  if (order[0] < 0) std::swap(order[0], order[1]);
  if (order[0] < 0 || limit == 0) return 0;
  const SocketReceive one = receive_socket(order[0], packets.first(limit), from.first(limit));
  size_t n = one.datagrams;
  if (order[1] >= 0 && n < limit) {
    // The first socket's datagrams are views into the buffers of its busy slots: the second
    // socket reads only into slots before or after them, whichever run is longer, and its
    // datagrams (views, moved as such) then follow the first socket's. With GRO it reads only
    // when a whole super-datagram fits (segments that do not fit would be lost); otherwise its
    // datagrams wait for the next call (the descriptor stays readable).
    const size_t a_begin = n, a_end = std::max(n, one.busy_begin);
    const size_t b_begin = std::max(n, one.busy_end), b_end = limit;
    const bool use_a = a_end - a_begin >= b_end - b_begin;
    const size_t begin = use_a ? a_begin : b_begin, len = use_a ? a_end - a_begin : b_end - b_begin;
    if (len >= (gro_ ? kMaxSegments : 1)) {
      const SocketReceive two =
          receive_socket(order[1], packets.subspan(begin, len), from.subspan(begin, len));
      if (begin != n) {
        std::copy_n(packets.begin() + static_cast<ptrdiff_t>(begin), two.datagrams,
                    packets.begin() + static_cast<ptrdiff_t>(n));
        std::copy_n(from.begin() + static_cast<ptrdiff_t>(begin), two.datagrams,
                    from.begin() + static_cast<ptrdiff_t>(n));
      }
      n += two.datagrams;
    }
  }
  if (n > 0) counters_.rx_datagrams.fetch_add(n, std::memory_order_relaxed);
  return n;
}

UdpBindLinux::SocketReceive UdpBindLinux::receive_socket(int fd, std::span<Packet> packets,
                                                         std::span<NetEndpoint> from) {
  size_t free = packets.size();
  // With GRO a message may hold up to 64 datagrams: messages are read into the last slots and
  // split forward, one per 64 free slots so the segments always fit.
  size_t k = std::min(kMaxMessages, gro_ ? std::max<size_t>(1, free / kMaxSegments) : free);
  size_t first = free - k;
  mmsghdr msgs[kMaxMessages];
  iovec iov[kMaxMessages];
  SockAddr names[kMaxMessages];
  alignas(cmsghdr) uint8_t control[kMaxMessages][kControlSize];
  for (size_t j = 0; j < k; j++) {
    Packet& p = packets[first + j];
    iov[j] = {p.base + p.offset, room(p)};
    msgs[j] = {};
    msgs[j].msg_hdr.msg_name = &names[j];
    msgs[j].msg_hdr.msg_namelen = sizeof names[j];
    msgs[j].msg_hdr.msg_iov = &iov[j];
    msgs[j].msg_hdr.msg_iovlen = 1;
    msgs[j].msg_hdr.msg_control = control[j];
    msgs[j].msg_hdr.msg_controllen = kControlSize;
  }
  int r;
  do r = ::recvmmsg(fd, msgs, static_cast<unsigned>(k), MSG_DONTWAIT, nullptr);
  while (r < 0 && errno == EINTR);
  if (r <= 0) return {};  // EAGAIN, or an error the next datagram will not have
  counters_.rx_syscalls.fetch_add(1, std::memory_order_relaxed);

  size_t w = 0;  // next slot to hand out
  uint64_t dropped = 0, coalesced = 0;
  for (size_t j = 0; j < static_cast<size_t>(r); j++) {
    size_t s = first + j;
    msghdr& h = msgs[j].msg_hdr;
    size_t len = msgs[j].msg_len;
    wg::Endpoint remote;
    if ((h.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 ||
        !from_sockaddr(names[j], h.msg_namelen, remote)) {
      dropped++;
      continue;
    }
    Arrival a = parse_control(h);
    size_t seg = a.gso_size > 0 && a.gso_size < len ? a.gso_size : len;
    size_t segments = seg == 0 ? 1 : (len + seg - 1) / seg;
    if (segments > 1) coalesced++;
    // Slots up to this message's own are free; past it only for the last message.
    size_t last = j + 1 < static_cast<size_t>(r) ? s : packets.size() - 1;
    size_t fit = std::min(segments, last - w + 1);
    dropped += segments - fit;
    // Each segment becomes a view of its bytes in the message's buffer (nothing is copied),
    // without room behind it: the next segment starts there. Slot w's own buffer goes unused.
    uint8_t* const src = packets[s].base;
    const size_t at = packets[s].offset;
    for (size_t i = 0; i < fit; i++) {
      const size_t n = std::min(seg, len - i * seg);
      const size_t offset = at + i * seg;
      packets[w] = Packet{src, static_cast<uint32_t>(offset + n), static_cast<uint32_t>(offset),
                          static_cast<uint32_t>(n)};
      from[w] = NetEndpoint{remote, a.local, a.ifindex};
      w++;
    }
  }
  if (dropped) counters_.rx_dropped.fetch_add(dropped, std::memory_order_relaxed);
  if (coalesced) counters_.rx_coalesced.fetch_add(coalesced, std::memory_order_relaxed);
  return {w, first, first + static_cast<size_t>(r)};
}

// ---- sending ----

void UdpBindLinux::send(std::span<const Packet> datagrams, const NetEndpoint& to) {
  if (datagrams.empty()) return;
  int fd = to.remote.address.is_v4() ? fd4_.get() : fd6_.get();
  if (fd < 0 || to.remote.address.bytes().empty()) {
    counters_.tx_dropped.fetch_add(datagrams.size(), std::memory_order_relaxed);
    return;
  }
  bool with_source = to.local && to.local->is_v4() == to.remote.address.is_v4();
  send_socket(fd, datagrams, to, with_source, true);
}

void UdpBindLinux::send_socket(int fd, std::span<const Packet> datagrams, const NetEndpoint& to,
                               bool with_source, bool allow_gso) {
  SockAddr dest;
  socklen_t dest_len = to_sockaddr(to.remote, dest);
  mmsghdr msgs[kMaxMessages];
  iovec iov[kMaxIov];
  alignas(cmsghdr) uint8_t control[kMaxMessages][kControlSize];
  size_t starts[kMaxMessages + 1];  // the first datagram of each message

  size_t at = 0;
  int waits = 0;
  while (at < datagrams.size()) {
    bool gso = allow_gso && gso_.load(std::memory_order_relaxed);
    // Plan one sendmmsg: messages of single datagrams, or UDP_SEGMENT runs.
    size_t m = 0, used_iov = 0;
    while (at < datagrams.size() && m < kMaxMessages && used_iov + kMaxSegments <= kMaxIov) {
      size_t count = gso ? run_length(datagrams, at) : 1;
      starts[m] = at;
      for (size_t i = 0; i < count; i++) {
        const Packet& p = datagrams[at + i];
        iov[used_iov + i] = {p.base + p.offset, p.size};
      }
      msghdr& h = msgs[m].msg_hdr;
      h = msghdr{};
      h.msg_name = &dest;
      h.msg_namelen = dest_len;
      h.msg_iov = &iov[used_iov];
      h.msg_iovlen = count;
      size_t clen = 0;
      if (with_source) clen += put_source(control[m] + clen, to);
      if (count > 1)
        clen += put_segment(control[m] + clen, static_cast<uint16_t>(datagrams[at].size));
      h.msg_control = clen ? control[m] : nullptr;
      h.msg_controllen = clen;
      used_iov += count;
      at += count;
      m++;
    }
    starts[m] = at;

    size_t sent = 0;
    while (sent < m) {
      int r = ::sendmmsg(fd, msgs + sent, static_cast<unsigned>(m - sent), 0);
      counters_.tx_syscalls.fetch_add(1, std::memory_order_relaxed);
      if (r > 0) {
        for (int i = 0; i < r; i++) {
          size_t count = starts[sent + 1] - starts[sent];
          counters_.tx_datagrams.fetch_add(count, std::memory_order_relaxed);
          if (count > 1) counters_.tx_gso_batches.fetch_add(1, std::memory_order_relaxed);
          sent++;
        }
        continue;
      }
      int e = errno;
      if (e == EINTR) continue;
      bool segmented = starts[sent + 1] - starts[sent] > 1;
      auto rest = datagrams.subspan(starts[sent]);
      if (e == EAGAIN || e == ENOBUFS) {
        // The socket buffer is full: wait a little for room, then give up on this batch.
        pollfd p{fd, POLLOUT, 0};
        if (++waits <= 3 && ::poll(&p, 1, kSendWaitMs) > 0) continue;
        counters_.tx_dropped.fetch_add(datagrams.size() - starts[sent], std::memory_order_relaxed);
        return;
      }
      if (with_source) {
        // The source address may be gone (IPv4 says ENETUNREACH, IPv6 EINVAL): let routing choose
        // one. A genuinely unreachable peer costs one more try.
        counters_.tx_source_retries.fetch_add(1, std::memory_order_relaxed);
        return send_socket(fd, rest, to, false, allow_gso);
      }
      if (segmented && (e == EIO || e == EINVAL)) {
        // EIO: the route's device cannot checksum, so no GSO on this bind from now on.
        // EINVAL: a segment larger than the route's MTU; these datagrams go one by one.
        if (e == EIO) gso_.store(false, std::memory_order_relaxed);
        size_t count = starts[sent + 1] - starts[sent];
        send_socket(fd, rest.subspan(0, count), to, with_source, false);
        return send_socket(fd, rest.subspan(count), to, with_source, allow_gso);
      }
      // Unreachable, too big, refused by a firewall: this message is lost, the rest goes on.
      counters_.tx_dropped.fetch_add(starts[sent + 1] - starts[sent], std::memory_order_relaxed);
      sent++;
    }
  }
}

}  // namespace wgnet::engine
