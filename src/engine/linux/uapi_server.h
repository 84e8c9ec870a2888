// The UAPI socket server: /var/run/wireguard/<iface>.sock for every interface that asks, served by
// one thread for all of them, speaking what `wg` expects from wireguard-go (device/uapi.go's
// IpcHandle): "get=1" and "set=1" operations, several per connection, "errno=N" replies. The
// text itself is wgconf/uapi_codec's and the device's business (the handlers).
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "util/fd.h"

namespace wgnet::engine {

class UapiServer {
 public:
  struct Limits {
    // One set request (netns.sh sets 130,560 allowed IPs at once: about 3.4 MB).
    size_t max_request = 32u << 20;
    // Bytes buffered for requests over all connections at once.
    size_t max_buffered = 64u << 20;
    // Connections open at once over all sockets; more are accepted and closed at once (a full
    // listen backlog would make `wg` see ECONNREFUSED, and it then unlinks the socket).
    size_t max_connections = 64;
    // A connection silent for this long is closed.
    std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};
  };
  struct Handlers {
    // The body of a set (the lines after "set=1\n", blank line excluded) → 0 or a negative errno.
    std::function<int(std::string_view body)> set;
    // The whole get reply, ending with "errno=N\n\n". Wiped after sending.
    std::function<std::string()> get;
  };

  // `on_removed(name)` runs on the server thread when a socket file this server created is
  // deleted or replaced by someone else.
  UapiServer(std::string dir, Limits limits,
             std::function<void(const std::string& name)> on_removed = {});
  ~UapiServer();
  UapiServer(const UapiServer&) = delete;
  UapiServer& operator=(const UapiServer&) = delete;

  // DIR/NAME.sock.
  static std::string socket_path(const std::string& dir, const std::string& name);
  // Creates DIR (0755) and the listening socket at DIR/NAME.sock, mode 0600; a stale socket file
  // (nobody accepting) is replaced, a live one is an error (SystemError).
  static Fd listen(const std::string& dir, const std::string& name);
  // Unlinks DIR/NAME.sock when it is a socket nobody accepts on (left by a server that was
  // killed); a live one, or anything else at that path, is left alone.
  static void remove_stale(const std::string& dir, const std::string& name);

  // Serves `name`: on `listener` when given (already listening, e.g. WG_UAPI_FD), else on a new
  // socket from listen(). Throws SystemError; InputError for a name not fit for a file name.
  void add(const std::string& name, Handlers handlers, Fd listener = Fd());
  // Stops serving `name` and unlinks its socket file (when it is still ours). Connections already
  // open are closed.
  void remove(const std::string& name);
  // Stops the thread; every socket is closed and unlinked. Idempotent.
  void shutdown();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace wgnet::engine
