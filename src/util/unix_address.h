// The address of a unix socket file: the one place a path is checked against sun_path's size.
#pragma once
#include <sys/socket.h>
#include <sys/un.h>

#include <string>

namespace wgnet {

// `path` as a sockaddr_un. Throws SystemError naming the path when it does not fit (at most
// 107 bytes) or is empty.
sockaddr_un unix_address(const std::string& path);

}  // namespace wgnet
