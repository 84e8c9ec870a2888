// A raw HTTP/1.1 client over a unix socket (or loopback TCP) for the HTTP tests: requests are
// written by hand, the way Docker's Go client sends them, and replies are parsed just enough to
// check them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "util/fd.h"

namespace wgnet::http::testing {

struct Reply {
  unsigned status = 0;
  std::unordered_map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// `POST <target>` with Docker's headers and `body` (Content-Length always set).
std::string docker_request(std::string_view target, std::string_view body = "");

// A TCP server on loopback, reached from `from`: any address of 127.0.0.0/8 reaches it, so one
// test can be several clients.
struct Loopback {
  uint16_t port = 0;
  std::string from = "127.0.0.1";
};

class RawClient {
 public:
  // Connects to `path`; throws std::runtime_error. Every read and write gives up after
  // `timeout_seconds`, so a broken server fails a test instead of hanging it.
  explicit RawClient(const std::string& path, int timeout_seconds = 10);
  // The same over TCP.
  explicit RawClient(const Loopback& server, int timeout_seconds = 10);

  // Writes all of `bytes`; false if the server closed the connection first.
  bool send(std::string_view bytes);
  // Writes `piece` over and over, `total` bytes in all, until the server stops taking them (it
  // closed the connection, or took nothing for the timeout). Returns how many it took, which,
  // with a small send buffer, bounds how many the server read.
  std::size_t flood(std::string_view piece, std::size_t total);
  // Sends docker_request(target, body) and reads the reply; nullopt as read_reply. A failed
  // send still reads, as the server may have answered and closed before the request went out.
  std::optional<Reply> call(std::string_view target, std::string_view body = "");
  // The next reply; nullopt on end of stream, reset or timeout.
  std::optional<Reply> read_reply();
  // True if the server closed the connection (end of stream or reset) before the timeout.
  bool closed_by_peer();

 private:
  // Opens fd_ with the timeouts set.
  void open(int family, int timeout_seconds);
  // Appends what arrives to buffer_; 0 at end of stream, -1 on error or timeout.
  long receive_some();

  Fd fd_;
  std::string buffer_;  // bytes received and not yet consumed (keep-alive may bring more)
};

}  // namespace wgnet::http::testing
