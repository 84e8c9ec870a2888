// A small blocking HTTP/1.1 client over a unix socket: how `wgnet` asks wgnetd's admin socket and
// Docker's API. One request per connection; knows nothing of what it carries.
#pragma once
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "http/message.h"

namespace wgnet::http {

struct ClientOptions {
  // For connecting, sending and each wait for reply bytes.
  std::chrono::milliseconds timeout{10000};
  std::size_t body_limit = 64 * 1024 * 1024;
};

// Sends `method target` (with `body`, if any) to the server on `socket_path` and returns its
// reply, whatever the status. Throws SystemError naming the socket when it cannot be reached, the
// reply does not come in time or is not HTTP.
Response unix_request(const std::string& socket_path, std::string_view method,
                      std::string_view target, std::string_view body = {},
                      const ClientOptions& options = {});

}  // namespace wgnet::http
