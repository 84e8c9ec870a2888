// One end of the control socket between wgnetd and its engine process (docs/PRIVSEP-PLAN.md 1.2):
// a connected AF_UNIX SOCK_SEQPACKET socket, one frame a datagram, a message's descriptors
// attached to its first frame with SCM_RIGHTS. It moves bytes and descriptors and bounds every
// wait; what the bytes mean is control::FrameAssembler's and control::decode_*'s.
#pragma once
#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/control/frame.h"
#include "util/error.h"
#include "util/fd.h"

namespace wgnet::engine {

// The peer closed its end (it exited, or dropped the channel): end of the conversation, not a
// broken message.
class ChannelClosed : public SystemError {
 public:
  using SystemError::SystemError;
};

// A wait for the peer (to send, or to make room) passed the channel's deadline.
class ChannelTimeout : public SystemError {
 public:
  using SystemError::SystemError;
};

// One datagram as it arrived, and the descriptors that came with it (owned, close-on-exec). The
// bytes hold what the frame holds (keys): the caller wipes them.
struct ReceivedFrame {
  std::vector<uint8_t> bytes;
  std::vector<Fd> fds;
};

// One whole message and the descriptors of its first frame, as many as message.fds.
struct ReceivedMessage {
  control::Message message;
  std::vector<Fd> fds;
};

class ControlChannel {
 public:
  static constexpr std::chrono::milliseconds kDefaultDeadline{5000};

  // `socket`: a connected AF_UNIX SOCK_SEQPACKET socket, blocking or not (every wait is a poll).
  // `deadline`: how long one send or receive may wait for the peer.
  explicit ControlChannel(Fd socket, std::chrono::milliseconds deadline = kDefaultDeadline);
  ControlChannel(const ControlChannel&) = delete;
  ControlChannel& operator=(const ControlChannel&) = delete;

  int fd() const { return socket_.get(); }

  // Sends one frame (at most control::kMaxFrame bytes) with `fds` attached; the caller keeps its
  // own copies. Throws ChannelTimeout, ChannelClosed (the peer is gone) or SystemError.
  void send_frame(std::span<const uint8_t> frame, std::span<const int> fds = {});
  // Receives one frame with at most `max_fds` descriptors. Every descriptor that came is closed
  // before it throws: SystemError when the datagram was longer than a frame (MSG_TRUNC) or
  // carried more descriptors than `max_fds` (MSG_CTRUNC), ChannelClosed at end of file,
  // ChannelTimeout.
  ReceivedFrame receive_frame(unsigned max_fds = control::kMaxFds);

  // Sends `message` as frames (wiped after: they hold what the body holds), `fds` with the first;
  // `fds` must be message.fds descriptors.
  void send(const control::Message& message, std::span<const int> fds = {});
  // Receives frames until a message is whole, within one deadline. What the assembler refuses
  // (control::ProtocolError: a malformed or interleaved frame, a body over its limit, a
  // descriptor count the type does not take) throws after closing every descriptor received;
  // after any throw the message in progress is dropped whole.
  ReceivedMessage receive();

 private:
  // Waits until the socket polls with one of `events`, up to `until`.
  void wait(short events, std::chrono::steady_clock::time_point until, const char* what) const;
  void send_frame(std::span<const uint8_t> frame, std::span<const int> fds,
                  std::chrono::steady_clock::time_point until);
  ReceivedFrame receive_frame(unsigned max_fds, std::chrono::steady_clock::time_point until);

  Fd socket_;
  std::chrono::milliseconds deadline_;
  control::FrameAssembler assembler_;
};

}  // namespace wgnet::engine
