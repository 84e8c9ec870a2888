// The client is blocking with a short timeout because userspace implementations answer at once.
#include "wg/uapi.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/unix_address.h"

namespace wgnet::wg::uapi {

std::string socket_dir() { return "/var/run/wireguard"; }
std::string socket_path(const std::string& ifname) { return socket_dir() + "/" + ifname + ".sock"; }

namespace {

constexpr std::chrono::milliseconds kTimeout{5000};

Fd connect_uapi(const std::string& ifname, std::chrono::milliseconds timeout = kTimeout) {
  std::string path = socket_path(ifname);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw SystemError(std::string("uapi: socket: ") + std::strerror(errno));
  const sockaddr_un addr = unix_address(path);
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    throw SystemError("uapi: cannot connect to " + path + ": " + std::strerror(errno));
  return fd;
}

// Sends `request`, reads until the blank line that ends a reply.
std::string round_trip(const std::string& ifname, std::string request,
                       std::chrono::milliseconds timeout = kTimeout) {
  crypto::ScopedWipe wipe_request(request);
  Fd fd = connect_uapi(ifname, timeout);
  size_t off = 0;
  while (off < request.size()) {
    ssize_t n = ::send(fd.get(), request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw SystemError("uapi: write to " + socket_path(ifname) + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  // The reply to get=1 carries the private key: read straight into a buffer that is grown by
  // hand, wiping the old one, so no unwiped copy is left behind.
  std::string reply;
  reply.reserve(16384);
  try {
    while (reply.size() < 2 || reply.compare(reply.size() - 2, 2, "\n\n") != 0) {
      if (reply.capacity() - reply.size() < 4096) {
        std::string bigger;
        bigger.reserve(reply.capacity() * 2);
        bigger = reply;
        crypto::wipe(reply.data(), reply.size());
        reply.swap(bigger);
      }
      size_t old = reply.size();
      reply.resize(reply.capacity());
      ssize_t n = ::recv(fd.get(), reply.data() + old, reply.size() - old, 0);
      int err = errno;
      reply.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
      if (n < 0 && err == EINTR) continue;
      if (n < 0)
        throw SystemError("uapi: read from " + socket_path(ifname) + ": " + std::strerror(err));
      if (n == 0) break;
    }
  } catch (...) {
    crypto::wipe(reply.data(), reply.size());
    throw;
  }
  return reply;
}

}  // namespace

void set(const std::string& ifname, const DeviceConfig& config) {
  std::string reply = round_trip(ifname, encode_set(config));
  if (reply != "errno=0\n\n")
    throw SystemError("uapi: configuring " + ifname +
                      " failed: " + reply.substr(0, reply.find('\n')));
}

void set_ops(const std::string& ifname, const std::vector<SetOp>& ops,
             std::chrono::milliseconds timeout) {
  std::string reply = round_trip(ifname, encode_ops(ops), timeout);
  if (reply != "errno=0\n\n")
    throw SystemError("uapi: changing " + ifname + " failed: " + reply.substr(0, reply.find('\n')));
}

DeviceStatus get(const std::string& ifname) {
  std::string reply = round_trip(ifname, "get=1\n\n");
  crypto::ScopedWipe wipe_reply(reply);
  return decode_get(reply);
}

bool reachable(const std::string& ifname) {
  try {
    connect_uapi(ifname);
    return true;
  } catch (const SystemError&) {
    return false;
  }
}

}  // namespace wgnet::wg::uapi
