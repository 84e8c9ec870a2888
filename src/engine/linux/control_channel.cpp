// sendmsg/recvmsg with SCM_RIGHTS on the control socket, every wait a poll up to a deadline.
#include "engine/linux/control_channel.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "crypto/secure.h"

namespace wgnet::engine {

namespace {

using Clock = std::chrono::steady_clock;

// Room for `n` descriptors in a control message, aligned as cmsghdr wants.
std::vector<uint64_t> control_buffer(size_t n) {
  return std::vector<uint64_t>((CMSG_SPACE(sizeof(int) * n) + 7) / 8);
}

// Every descriptor of every SCM_RIGHTS in `h`, owned.
std::vector<Fd> take_fds(msghdr& h) {
  std::vector<Fd> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.emplace_back(fd);
    }
  }
  return fds;
}

}  // namespace

ControlChannel::ControlChannel(Fd socket, std::chrono::milliseconds deadline)
    : socket_(std::move(socket)), deadline_(deadline) {}

void ControlChannel::wait(short events, Clock::time_point until, const char* what) const {
  pollfd p{socket_.get(), events, 0};
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now());
    const int rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (rc > 0) return;  // ready, or hung up: the call that follows says which
    if (rc == 0)
      throw ChannelTimeout(std::string("control: no ") + what + " within " +
                           std::to_string(deadline_.count()) + " ms");
    if (errno != EINTR) throw SystemError("control: poll: " + errno_text(errno));
  }
}

void ControlChannel::send_frame(std::span<const uint8_t> frame, std::span<const int> fds) {
  send_frame(frame, fds, Clock::now() + deadline_);
}

void ControlChannel::send_frame(std::span<const uint8_t> frame, std::span<const int> fds,
                                Clock::time_point until) {
  if (frame.size() > control::kMaxFrame)
    throw SystemError("control: a frame of " + std::to_string(frame.size()) +
                      " bytes to send, over 64 KiB");
  iovec iov{const_cast<uint8_t*>(frame.data()), frame.size()};
  msghdr h{};
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  auto buffer = control_buffer(fds.size());
  if (!fds.empty()) {
    h.msg_control = buffer.data();
    h.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    const ssize_t n = ::sendmsg(socket_.get(), &h, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return;  // a datagram goes whole or not at all
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      wait(POLLOUT, until, "room to send");
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET)
      throw ChannelClosed("control: the peer closed the channel");
    throw SystemError("control: sendmsg: " + errno_text(errno));
  }
}

ReceivedFrame ControlChannel::receive_frame(unsigned max_fds) {
  return receive_frame(max_fds, Clock::now() + deadline_);
}

ReceivedFrame ControlChannel::receive_frame(unsigned max_fds, Clock::time_point until) {
  ReceivedFrame out;
  out.bytes.resize(control::kMaxFrame);
  iovec iov{out.bytes.data(), out.bytes.size()};
  // Room for one descriptor more than allowed (and what alignment adds), so that a frame with too
  // many is counted below rather than cut by the kernel; more still sets MSG_CTRUNC.
  auto buffer = control_buffer(max_fds + 1);
  msghdr h{};
  ssize_t n;
  for (;;) {
    h = msghdr{};
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = buffer.data();
    h.msg_controllen = buffer.size() * sizeof(uint64_t);
    n = ::recvmsg(socket_.get(), &h, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      wait(POLLIN, until, "frame");
      continue;
    }
    if (errno == ECONNRESET) throw ChannelClosed("control: the peer closed the channel");
    throw SystemError("control: recvmsg: " + errno_text(errno));
  }
  out.fds = take_fds(h);  // owned from here: closed by every throw below
  // The bytes may hold keys: wiped before any throw drops them.
  const auto refuse = [&out](const std::string& why) {
    crypto::wipe(out.bytes);
    throw SystemError(why);
  };
  if (h.msg_flags & MSG_CTRUNC)
    refuse("control: a frame with more descriptors than fit (at most " + std::to_string(max_fds) +
           "); closed the " + std::to_string(out.fds.size()) + " that came");
  if (out.fds.size() > max_fds)
    refuse("control: a frame with " + std::to_string(out.fds.size()) + " descriptors, at most " +
           std::to_string(max_fds) + " expected; closed them");
  if (h.msg_flags & MSG_TRUNC)
    refuse("control: a datagram over 64 KiB, longer than any frame; cut and dropped");
  if (n == 0 && out.fds.empty()) {
    // End of file, or an empty datagram (which no frame is: the assembler refuses it).
    pollfd p{socket_.get(), POLLRDHUP, 0};
    if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP)))
      throw ChannelClosed("control: the peer closed the channel");
  }
  out.bytes.resize(static_cast<size_t>(n));
  return out;
}

void ControlChannel::send(const control::Message& message, std::span<const int> fds) {
  if (fds.size() != message.fds)
    throw SystemError("control: " + control::type_name(message.type) + " says " +
                      std::to_string(message.fds) + " descriptors and was given " +
                      std::to_string(fds.size()));
  auto frames = control::encode_frames(message.type, message.id, message.body);
  crypto::ScopedWipe wipe_frames(frames);
  const auto until = Clock::now() + deadline_;
  for (size_t i = 0; i < frames.size(); i++)
    send_frame(frames[i], i == 0 ? fds : std::span<const int>(), until);
}

ReceivedMessage ControlChannel::receive() {
  const auto until = Clock::now() + deadline_;
  std::vector<Fd> fds;
  try {
    for (;;) {
      ReceivedFrame f = receive_frame(control::kMaxFds, until);
      crypto::ScopedWipe wipe_frame(f.bytes);
      std::optional<control::Message> m =
          assembler_.add(f.bytes, static_cast<unsigned>(f.fds.size()));
      if (!f.fds.empty()) fds = std::move(f.fds);  // the first frame's: the assembler checked
      if (m) return {std::move(*m), std::move(fds)};
    }
  } catch (...) {
    assembler_.reset();  // a message cut short is dropped whole, with its descriptors
    throw;
  }
}

}  // namespace wgnet::engine
