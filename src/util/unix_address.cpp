#include "util/unix_address.h"

#include <cstring>

#include "util/error.h"

namespace wgnet {

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.empty()) throw SystemError("socket path is empty");
  if (path.size() >= sizeof a.sun_path)
    throw SystemError("socket path " + path + " is too long (at most " +
                      std::to_string(sizeof a.sun_path - 1) + " bytes)");
  std::memcpy(a.sun_path, path.data(), path.size());
  return a;
}

}  // namespace wgnet
