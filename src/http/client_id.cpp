// Naming a connection's client: its peer uid on a unix socket, its address (or /64) on TCP.
#include "http/client_id.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>
#include <cstring>

namespace wgnet::http {

namespace {

// The uid the kernel recorded when the peer connected: a process cannot fake it, and, unlike a
// pid, cannot get another by forking. All of a user's processes count as one client, which is
// what a cap against one user holding the server's connections needs.
std::string unix_client(int fd) {
  ucred credentials{};
  socklen_t length = sizeof credentials;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return "unknown";
  return "uid " + std::to_string(credentials.uid);
}

// An IPv6 host is commonly given a whole /64 and can pick a fresh address in it for every
// connection, so the /64 is the client. An IPv4 client of a dual-stack listener arrives
// v4-mapped and counts by its IPv4 address.
std::string ip_client(const boost::asio::ip::address& address) {
  if (address.is_v4()) return address.to_string();
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  auto bytes = v6.to_bytes();
  std::memset(bytes.data() + 8, 0, 8);
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

}  // namespace

std::string client_id(boost::asio::generic::stream_protocol::socket& socket) {
  boost::system::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  switch (peer.protocol().family()) {
    case AF_UNIX:
      return unix_client(socket.native_handle());
    case AF_INET: {
      const auto* in = reinterpret_cast<const sockaddr_in*>(peer.data());
      return ip_client(boost::asio::ip::address_v4(ntohl(in->sin_addr.s_addr)));
    }
    case AF_INET6: {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(peer.data());
      boost::asio::ip::address_v6::bytes_type bytes;
      std::memcpy(bytes.data(), in6->sin6_addr.s6_addr, bytes.size());
      return ip_client(boost::asio::ip::address_v6(bytes));
    }
    default:
      return "unknown";
  }
}

}  // namespace wgnet::http
