// Names are derived from the endpoint ID so an operator can tell which device is whose.
#include "driver/ifname.h"

#include <cctype>

#include "util/error.h"

namespace wgnet::driver {

std::string pick_ifname(const std::string& endpoint_id,
                        const std::function<bool(const std::string&)>& taken) {
  std::string hex;
  for (char c : endpoint_id)
    if (std::isxdigit(static_cast<unsigned char>(c)))
      hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (size_t off = 0; off + 8 <= hex.size(); off += 8) {
    std::string n = kIfPrefix + hex.substr(off, 8);
    if (!taken(n)) return n;
  }
  for (unsigned i = 0; i < 100000000; i++) {
    std::string n = kIfPrefix + std::to_string(i);
    if (!taken(n)) return n;
  }
  throw SystemError("no free interface name");
}

}  // namespace wgnet::driver
