// The kernel's rule for interface names (net/core/dev.c dev_valid_name).
#include "util/ifname.h"

#include <net/if.h>

#include <string>

#include "util/error.h"

namespace wgnet {

void check_ifname(std::string_view name) {
  bool ok = !name.empty() && name.size() < IFNAMSIZ && name != "." && name != "..";
  for (char c : name)
    if (c == '/' || c == ':' || c == '\0' || c == ' ' || c == '\t' || c == '\n') ok = false;
  if (!ok)
    throw InputError("invalid interface name '" + std::string(name) +
                     "': expected 1 to 15 bytes without '/', ':' or whitespace");
}

}  // namespace wgnet
