// The raw HTTP test client: hand-written requests, minimal reply parsing.
#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace wgnet::http::testing {

std::string docker_request(std::string_view target, std::string_view body) {
  std::string text = "POST " + std::string(target) + " HTTP/1.1\r\n";
  text += "Host: plugin\r\n";
  text += "User-Agent: Go-http-client/1.1\r\n";
  text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  text += "Accept: application/vnd.docker.plugins.v1.2+json\r\n";
  text += "Accept-Encoding: gzip\r\n\r\n";
  text += body;
  return text;
}

void RawClient::open(int family, int timeout_seconds) {
  fd_ = Fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd_) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  timeval tv{};
  tv.tv_sec = timeout_seconds;
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

RawClient::RawClient(const std::string& path, int timeout_seconds) {
  open(AF_UNIX, timeout_seconds);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("connect " + path + ": " + std::strerror(errno));
}

RawClient::RawClient(const Loopback& server, int timeout_seconds) {
  open(AF_INET, timeout_seconds);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (::inet_pton(AF_INET, server.from.c_str(), &addr.sin_addr) != 1 ||
      ::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("bind " + server.from + ": " + std::strerror(errno));
  addr.sin_port = htons(server.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("connect 127.0.0.1:" + std::to_string(server.port) + ": " +
                             std::strerror(errno));
}

bool RawClient::send(std::string_view bytes) {
  while (!bytes.empty()) {
    // MSG_NOSIGNAL: a server that closes early must fail the write, not kill the test binary.
    const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::optional<Reply> RawClient::call(std::string_view target, std::string_view body) {
  send(docker_request(target, body));
  return read_reply();
}

std::size_t RawClient::flood(std::string_view piece, std::size_t total) {
  // The kernel doubles it: what sits in the socket between us and the server stays well under
  // anything a test calls too much, whatever the host's default.
  const int sndbuf = 64 * 1024;
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  std::size_t sent = 0;
  std::size_t offset = 0;  // into `piece`, where the stream goes on
  while (sent < total) {
    const std::string_view part =
        piece.substr(offset, std::min(piece.size() - offset, total - sent));
    const ssize_t n = ::send(fd_.get(), part.data(), part.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
    offset = (offset + static_cast<std::size_t>(n)) % piece.size();
  }
  return sent;
}

long RawClient::receive_some() {
  char chunk[65536];
  ssize_t n;
  do n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
  while (n < 0 && errno == EINTR);
  if (n > 0) buffer_.append(chunk, static_cast<size_t>(n));
  return n;
}

std::optional<Reply> RawClient::read_reply() {
  size_t header_end;
  while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos)
    if (receive_some() <= 0) return std::nullopt;

  Reply reply;
  const std::string head = buffer_.substr(0, header_end);
  // "HTTP/1.1 200 OK"
  reply.status = static_cast<unsigned>(std::stoul(head.substr(head.find(' ') + 1, 3)));
  for (size_t pos = head.find("\r\n"); pos != std::string::npos;) {
    const size_t next = head.find("\r\n", pos + 2);
    const std::string line =
        head.substr(pos + 2, next == std::string::npos ? next : next - pos - 2);
    const size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    reply.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    pos = next;
  }
  // The server must always send Content-Length; without it this throws and the test fails.
  const size_t length = std::stoul(reply.headers.at("content-length"));
  const size_t body_start = header_end + 4;
  while (buffer_.size() < body_start + length)
    if (receive_some() <= 0) return std::nullopt;
  reply.body = buffer_.substr(body_start, length);
  buffer_.erase(0, body_start + length);
  return reply;
}

bool RawClient::closed_by_peer() {
  for (;;) {
    const long n = receive_some();
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

}  // namespace wgnet::http::testing
