// A published port as wgnet keeps it: which host address and port range to listen on, and which
// port of the container to relay to. Pure data and a text codec (for the state database); knows
// nothing of Docker's JSON (driver/api.cpp maps that) or of sockets (relay.h).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/ip.h"

namespace wgnet::portmap {

enum class Proto { kTcp, kUdp };

struct Binding {
  Proto proto = Proto::kTcp;
  uint16_t container_port = 0;       // 1-65535
  std::optional<IpAddress> host_ip;  // unset: every address of the host (IPv4 and IPv6)
  uint16_t host_port = 0;            // 1-65535
  uint16_t host_port_end = 0;        // >= host_port: the first free port of the range is used

  auto operator<=>(const Binding&) const = default;
};

const char* proto_name(Proto p);  // "tcp", "udp"

// "127.0.0.1:18092->8080/tcp", "[::1]:18100-18101->9000/udp", "*:80->8080/tcp": for messages and
// logs, in the form `docker port` prints.
std::string describe(const Binding& b);

// Checks what Docker cannot have checked for wgnet: ports are 1-65535 (a host port of 0, Docker's
// "any free port", cannot be reported back to Docker by a remote driver), the range is ordered.
// Throws InputError naming the binding and what to do.
void validate(const Binding& b);

// The state database's form: "tcp 127.0.0.1 18092 18092 8080;udp * 18100 18101 9000" (fields
// separated by spaces, bindings by ';'; '*' for every address). decode() accepts only what
// encode() writes and throws InputError on anything else.
std::string encode(const std::vector<Binding>& bindings);
std::vector<Binding> decode(std::string_view text);

}  // namespace wgnet::portmap
