// Who is at the other end of a connection, as the server's per-client connection cap counts
// clients. Internal to the HTTP layer.
#pragma once
#include <boost/asio/generic/stream_protocol.hpp>
#include <string>

namespace wgnet::http {

// "uid 1000" for a unix socket (SO_PEERCRED), the remote address for TCP ("192.0.2.7"), its /64
// for IPv6 ("2001:db8:1:2::/64"); "unknown" if the kernel cannot say. Each is a name a client
// cannot multiply at will, and reads well in a log line.
std::string client_id(boost::asio::generic::stream_protocol::socket& socket);

}  // namespace wgnet::http
