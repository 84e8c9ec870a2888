// Host-side names of wgnet's devices: "wgnet-" + 8 hex digits of the endpoint ID (14 bytes, under
// the kernel's 15), unique among this daemon's devices and the host's links.
#pragma once
#include <functional>
#include <string>

namespace wgnet::driver {

inline constexpr const char* kIfPrefix = "wgnet-";

// The first free name for `endpoint_id`: successive 8-digit windows of its hex digits, then a
// counter. `taken` says whether a name is in use. Throws SystemError when none is free.
std::string pick_ifname(const std::string& endpoint_id,
                        const std::function<bool(const std::string&)>& taken);

}  // namespace wgnet::driver
