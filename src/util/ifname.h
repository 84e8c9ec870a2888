// Interface names as the kernel takes them: checked by rtnetlink before a request, by the
// engine's control codec on every name it receives, and by the CNI codec (CNI_IFNAME, API v1).
#pragma once
#include <string_view>

namespace wgnet {

// Throws InputError unless `name` is a valid interface name (1..15 bytes, no '/', ':',
// whitespace or NUL, not "." or "..").
void check_ifname(std::string_view name);

}  // namespace wgnet
