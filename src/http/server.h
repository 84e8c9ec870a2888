// The HTTP/1.1 server on a unix socket that Docker calls the plugin through. It knows nothing of
// Docker or WireGuard: it hands every request to one Handler and writes back what it returns.
#pragma once
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "http/message.h"

namespace wgnet::http {

struct ServerOptions {
  // Threads that run the handler. Docker calls in parallel, and one slow call (a Join that
  // waits on the kernel) must not hold up an EndpointOperInfo on another connection.
  unsigned handler_threads = 16;
  // Larger bodies get a 413; Docker's largest (CreateNetwork) is a few kilobytes.
  std::size_t body_limit = 1024 * 1024;
  // A connection with no request in progress for this long is closed. Generous, because
  // Docker keeps its connections open between calls.
  std::chrono::steady_clock::duration idle_timeout = std::chrono::minutes(5);
};

class UnixServer {
 public:
  // Binds `socket_path` (creating its directory, replacing a stale socket, refusing anything
  // that is not a socket or a socket someone still serves), makes it 0600 and listens.
  // Throws SystemError.
  UnixServer(std::string socket_path, Handler handler, ServerOptions options = {});
  // Stops, waits for handlers still running, and removes the socket file.
  ~UnixServer();
  UnixServer(const UnixServer&) = delete;
  UnixServer& operator=(const UnixServer&) = delete;

  // Serves until stop(), on the calling thread (I/O) and the handler threads. Call it once.
  // When it returns, the socket file is gone, every connection is closed and no handler runs.
  void run();
  // Makes run() return promptly, also with idle keep-alive connections open; requests whose
  // handler has not started are dropped (Docker retries on a dropped connection). Thread-safe,
  // callable before or during run(); not async-signal-safe, so call it from a thread that waits
  // for signals (sigwait) rather than from a signal handler.
  void stop();

  const std::string& path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wgnet::http
