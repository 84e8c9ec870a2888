// The HTTP/1.1 server on a unix socket that Docker calls the plugin through (and, with the same
// bounds, on TCP for Prometheus). It knows nothing of Docker or WireGuard: it hands every request
// to one Handler and writes back what it returns.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "http/message.h"

namespace wgnet::http {

namespace detail {
struct Listener;  // the accept loop, connections and lanes both servers share
}

struct ServerOptions {
  // Threads that run the handler. Docker calls in parallel, and one slow call (a Join that
  // waits on the kernel) must not hold up a call on another connection.
  unsigned handler_threads = 16;
  // Calls for which this returns true run on a small lane of their own, so they are answered at
  // once even when every one of `handler_threads` is busy. For calls that only read memory;
  // the caller knows which those are. Empty: every call takes the main lane.
  // Called on the I/O thread, so it must be quick and must not throw.
  std::function<bool(std::string_view target)> is_cheap;
  unsigned cheap_threads = 2;  // that lane's threads
  // Calls waiting for a free thread, per lane; past this a call gets a 503 at once, which beats
  // an unbounded queue whose tail would wait past its deadline anyway.
  std::size_t max_queued_calls = 64;
  // A call not finished within this is answered with an error, and its late result is dropped;
  // one still queued never runs. A thread stuck in such a handler no longer counts against its
  // lane, which may start up to as many threads again in place of stuck ones. Docker waits for
  // a plugin without a limit of its own, so this is what keeps a stuck handler from stalling it.
  std::chrono::steady_clock::duration handler_deadline = std::chrono::seconds(60);
  // Open connections. When all are taken, a new one closes the connection that has waited longest
  // for a request head (connected or answered, then silent), so peers holding connections open
  // without calling cannot lock a caller out; one with a request in progress is never closed.
  // Only when every connection has one does the new connection get a 503 and is closed unread.
  std::size_t max_connections = 128;
  // Open connections per client (client_id.h: a peer uid on a unix socket, a remote address on
  // TCP); past this a client's new one gets a 503 and is closed unread: a 503 with a reason reads
  // better in a scraper's or `wgnet status`'s error than a dropped connection. 0: no cap, as on
  // the plugin socket, where every connection comes from dockerd's one uid.
  std::size_t max_connections_per_client = 0;
  // Larger bodies get a 413 before they are read; Docker's largest (CreateNetwork) is a few
  // kilobytes. A body must come with Content-Length: Docker never sends chunked ones, and
  // chunk extensions and trailers would escape every limit.
  std::size_t body_limit = 1024 * 1024;
  // The request line and header fields; larger ones get a 431. The read buffer of a connection
  // is held to twice this, so with body_limit it bounds what one connection can make us hold.
  std::size_t header_limit = 8 * 1024;
  // Time a connection has for a whole request, from when it connects or its last reply went out,
  // and for taking a reply; past it, it is closed. Generous, because Docker keeps its
  // connections open between calls.
  std::chrono::steady_clock::duration idle_timeout = std::chrono::minutes(5);
  // How the server's own error replies are worded (see ErrorReply).
  ErrorReply error_reply = plain_error;
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
  // When it returns, the socket file is gone, every connection is closed and no handler runs:
  // it waits for handlers still running, also those past their deadline.
  void run();
  // Makes run() return promptly, also with idle keep-alive connections open: every connection
  // is closed at once, requests whose handler has not started are dropped (Docker retries on a
  // dropped connection), and run() returns as soon as the running handlers do. Thread-safe,
  // callable before or during run(); not async-signal-safe, so call it from a thread that waits
  // for signals (sigwait) rather than from a signal handler.
  void stop();

  const std::string& path() const;

 private:
  std::unique_ptr<detail::Listener> impl_;
};

// The same server on a TCP address, for clients that cannot reach a unix socket (a Prometheus
// scraping over the network). There is no file to claim: a port in use fails the constructor.
class TcpServer {
 public:
  // Binds `address` (numeric IPv4 or IPv6: "127.0.0.1", "::") and `port` (0: any free port),
  // and listens. Throws SystemError.
  TcpServer(const std::string& address, uint16_t port, Handler handler, ServerOptions options = {});
  ~TcpServer();
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

  // As UnixServer's.
  void run();
  void stop();
  // The port bound (the one chosen when 0 was asked for).
  uint16_t port() const;

 private:
  std::unique_ptr<detail::Listener> impl_;
};

}  // namespace wgnet::http
