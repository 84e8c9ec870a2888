// Publishing a container's ports on the host: what the driver asks for, behind an interface so the
// driver's unit tests use a fake (tests/unit/fake_publisher.h) and the real relay (relay.h) is
// tested on its own in network namespaces.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "portmap/binding.h"
#include "util/ip.h"

namespace wgnet::portmap {

// Where published traffic goes: the container's network namespace (a bind-mounted namespace file,
// Docker's SandboxKey) and its addresses there (either may be unset, not both).
struct Target {
  std::string sandbox;
  std::optional<IpAddress> ipv4, ipv6;

  auto operator<=>(const Target&) const = default;
};

class Publisher {
 public:
  virtual ~Publisher() = default;

  // Listens on every binding's host address and port (in the caller's network namespace: the
  // host's) and relays each TCP connection and each UDP flow to `target`: a socket opened inside
  // the target's namespace connects to the container's address (IPv6 when the host address is IPv6
  // and the container has one, else IPv4, else IPv6) and the binding's container port. The
  // container gets no interface or route for it.
  // Replaces whatever `key` published before (same bindings: nothing changes, connections stay).
  // All or nothing: when one binding cannot be bound (the port is in use, the address is not on
  // this host), throws InputError naming it, and what `key` published before stays as it was.
  virtual void publish(const std::string& key, const Target& target,
                       const std::vector<Binding>& bindings) = 0;

  // Stops listening for `key` and closes its relayed connections and flows. Unknown keys are
  // ignored (Docker may revoke twice).
  virtual void unpublish(const std::string& key) = 0;
};

}  // namespace wgnet::portmap
