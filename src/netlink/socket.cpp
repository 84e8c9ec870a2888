// Netlink socket I/O: sequence numbers, acknowledgements, dumps and the kernel's error reports
// (errno plus the extended-ack text, which often says exactly which attribute was wrong).
#include "netlink/socket.h"

#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "netlink/message.h"

namespace wgnet::netlink {

namespace {

std::string describe(std::string_view what, int err, std::string_view kernel_says = {}) {
  std::string s(what);
  s += ": ";
  s += std::strerror(err);
  if (!kernel_says.empty()) {
    s += " (kernel: ";
    s += kernel_says;
    s += ")";
  }
  return s;
}

[[noreturn]] void throw_errno(std::string_view what, int err) {
  throw NetlinkError(err, describe(what, err));
}

// The extended-ack message that may follow an nlmsgerr: where it starts depends on whether
// the kernel echoed our whole request (NETLINK_CAP_ACK refused) or only its header.
std::string extack_message(const Message& m) {
  if (!(m.header.nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  try {
    auto err = m.fixed<nlmsgerr>();
    size_t offset = sizeof(int) + sizeof(nlmsghdr);
    if (!(m.header.nlmsg_flags & NLM_F_CAPPED))
      offset = sizeof(int) + NLMSG_ALIGN(err.msg.nlmsg_len);
    auto attrs = m.attributes(offset);
    if (auto a = find_attribute(attrs, NLMSGERR_ATTR_MSG)) return a->str();
  } catch (const SystemError&) {
    // A garbled extended ack must not hide the errno we already have.
  }
  return {};
}

}  // namespace

Socket::Socket(int protocol) {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0)
    throw_errno("netlink: cannot open socket for protocol " + std::to_string(protocol), errno);
  fd_.reset(fd);
  // Both are optional comforts (older kernels lack them): readable errors, and errors that do
  // not echo back our request (which may hold keys).
  int one = 1;
  setsockopt(fd_.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd_.get(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  // Like libmnl: a time-based start makes replies to a previous process's requests unlikely
  // to be taken for ours.
  seq_ = static_cast<uint32_t>(std::time(nullptr));
}

std::vector<uint8_t> Socket::request(std::span<uint8_t> message, std::string_view what) {
  bool interrupted = false;
  return exchange(message, 0, what, &interrupted);
}

std::vector<uint8_t> Socket::dump(std::span<uint8_t> message, std::string_view what) {
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    bool interrupted = false;
    auto replies = exchange(message, NLM_F_DUMP, what, &interrupted);
    if (!interrupted) return replies;
    crypto::wipe(replies);
    if (attempt == kAttempts)
      throw NetlinkError(EAGAIN, std::string(what) + ": the dump was interrupted by concurrent " +
                                     "changes " + std::to_string(kAttempts) + " times");
  }
}

void Socket::send(std::span<const uint8_t> message, std::string_view what) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t n = ::sendto(fd_.get(), message.data(), message.size(), 0,
                         reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno(std::string(what) + ": netlink send failed", errno);
    if (static_cast<size_t>(n) != message.size())
      throw NetlinkError(EMSGSIZE, std::string(what) + ": netlink sent " + std::to_string(n) +
                                       " of " + std::to_string(message.size()) + " bytes");
    return;
  }
}

void Socket::receive(std::string_view what) {
  for (;;) {
    // Peek at the size first so no datagram is ever truncated, however large the dump part.
    ssize_t size = ::recv(fd_.get(), nullptr, 0, MSG_PEEK | MSG_TRUNC);
    if (size < 0 && errno == EINTR) continue;
    if (size < 0) throw_errno(std::string(what) + ": netlink receive failed", errno);
    rx_.resize(static_cast<size_t>(size));
    sockaddr_nl from{};
    socklen_t from_len = sizeof from;
    ssize_t n = ::recvfrom(fd_.get(), rx_.data(), rx_.size(), 0, reinterpret_cast<sockaddr*>(&from),
                           &from_len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno(std::string(what) + ": netlink receive failed", errno);
    rx_.resize(static_cast<size_t>(n));
    // Only the kernel (port 0) answers requests; anything else is not for us.
    if (from.nl_pid == 0) return;
    crypto::wipe(rx_);
  }
}

std::vector<uint8_t> Socket::exchange(std::span<uint8_t> message, uint16_t extra_flags,
                                      std::string_view what, bool* interrupted) {
  if (message.size() < sizeof(nlmsghdr))
    throw InputError(std::string(what) + ": netlink request shorter than its header");
  nlmsghdr h;
  std::memcpy(&h, message.data(), sizeof h);
  h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK | extra_flags;
  h.nlmsg_seq = ++seq_;
  std::memcpy(message.data(), &h, sizeof h);
  send(message, what);

  // Replies to a GET of the wireguard family hold keys: wipe them on every way out.
  std::vector<uint8_t> replies;
  crypto::ScopedWipe replies_guard(replies);
  crypto::ScopedWipe rx_guard(rx_);
  for (;;) {
    receive(what);
    for (const Message& m : parse_messages(rx_)) {
      // A reply to an earlier request that was abandoned after an error: not ours.
      if (m.header.nlmsg_seq != h.nlmsg_seq) continue;
      if (m.header.nlmsg_type == NLMSG_ERROR) {
        int err = -m.fixed<int>();  // nlmsgerr.error comes first
        if (err == 0) {
          replies_guard.release();
          return replies;
        }
        throw NetlinkError(err, describe(what, err, extack_message(m)));
      }
      if (m.header.nlmsg_type == NLMSG_DONE) {
        // A dump that failed part-way reports its error in NLMSG_DONE's payload.
        int err = 0;
        if (m.payload.size() >= sizeof err) err = -m.fixed<int>();
        if (err > 0) throw NetlinkError(err, describe(what, err));
        replies_guard.release();
        return replies;
      }
      if (m.header.nlmsg_type == NLMSG_NOOP) continue;
      // Read on to NLMSG_DONE even so: a dump left half-read would keep the socket busy.
      if (m.header.nlmsg_flags & NLM_F_DUMP_INTR) *interrupted = true;
      append_wiping(replies, m.bytes);
      static constexpr uint8_t zeros[NLMSG_ALIGNTO] = {};
      append_wiping(replies,
                    std::span(zeros, NLMSG_ALIGN(m.header.nlmsg_len) - m.header.nlmsg_len));
    }
    crypto::wipe(rx_);
  }
}

}  // namespace wgnet::netlink
