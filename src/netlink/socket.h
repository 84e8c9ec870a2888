// A netlink socket to the kernel (rtnetlink or generic netlink): sends one request at a time and
// reads its replies until the acknowledgement or the end of the dump.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"
#include "util/fd.h"

namespace wgnet::netlink {

// A request the kernel refused (NLMSG_ERROR) or a failed netlink syscall. The errno is kept so
// callers can react to EOPNOTSUPP (no such link kind), ENODEV (no such link), EEXIST, ...
class NetlinkError : public SystemError {
 public:
  // `message` is complete: it says what failed and why.
  NetlinkError(int error_number, const std::string& message)
      : SystemError(message), error_number_(error_number) {}
  int error_number() const noexcept { return error_number_; }

 private:
  int error_number_;
};

// The socket lives in the network namespace that was current when it was opened, and so do the
// links it creates and sees.
class Socket {
 public:
  // `protocol` is NETLINK_ROUTE or NETLINK_GENERIC.
  explicit Socket(int protocol);

  // Sends `message` (a finished MessageBuilder result) with NLM_F_REQUEST | NLM_F_ACK and a
  // fresh sequence number stamped into its header, and waits for the acknowledgement. Returns
  // the reply messages that came before it (e.g. the answer to a GET), 4-byte aligned and
  // concatenated for parse_messages(). `what` names the operation in error messages.
  std::vector<uint8_t> request(std::span<uint8_t> message, std::string_view what);
  // Like request() with NLM_F_DUMP: returns every message of the dump up to NLMSG_DONE. A dump
  // the kernel marks inconsistent (a concurrent change, NLM_F_DUMP_INTR) is asked for again.
  std::vector<uint8_t> dump(std::span<uint8_t> message, std::string_view what);

 private:
  // Sets *interrupted when a reply carried NLM_F_DUMP_INTR (the replies are still read to the end).
  std::vector<uint8_t> exchange(std::span<uint8_t> message, uint16_t extra_flags,
                                std::string_view what, bool* interrupted);
  void send(std::span<const uint8_t> message, std::string_view what);
  // Receives one datagram from the kernel into rx_.
  void receive(std::string_view what);

  Fd fd_;
  uint32_t seq_ = 0;
  // Wiped after every exchange: replies may hold keys.
  std::vector<uint8_t> rx_;
};

}  // namespace wgnet::netlink
