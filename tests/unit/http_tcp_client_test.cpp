// The HTTP layer on TCP (what Prometheus scrapes) and the unix socket client (what `wgnet status`
// asks wgnetd and Docker with): one server implementation, both transports, and the client's
// errors for a missing socket and a server that never answers.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "http/client.h"
#include "http/server.h"
#include "util/error.h"

using namespace wgnet;
using namespace wgnet::http;

namespace {

Response echo(const Request& r) {
  return {200, "text/plain", r.method + " " + r.target + " " + r.body};
}

// A raw GET over TCP to 127.0.0.1:port; returns the whole reply.
std::string tcp_get(uint16_t port, const std::string& target) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "connect failed";
  }
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() /
          (std::string("wgnet-http-") + std::to_string(::getpid()) + "-" + name))
      .string();
}

}  // namespace

TEST(HttpTcp, ServesOnAnAnyPortAndStops) {
  TcpServer server("127.0.0.1", 0, echo);
  uint16_t port = server.port();
  ASSERT_NE(port, 0);
  std::thread t([&] { server.run(); });
  std::string reply = tcp_get(port, "/metrics");
  EXPECT_EQ(reply.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_NE(reply.find("GET /metrics "), std::string::npos) << reply;
  server.stop();
  t.join();
  EXPECT_EQ(tcp_get(port, "/metrics"), "connect failed") << "stopped servers stop listening";
}

TEST(HttpTcp, ATakenPortOrABadAddressIsRefused) {
  TcpServer first("127.0.0.1", 0, echo);
  EXPECT_THROW(TcpServer("127.0.0.1", first.port(), echo), SystemError);
  EXPECT_THROW(TcpServer("localhost", 0, echo), SystemError) << "numeric addresses only";
  TcpServer v6("::1", 0, echo);  // IPv6 works the same
  EXPECT_NE(v6.port(), 0);
}

TEST(HttpClient, AsksAUnixSocketServer) {
  std::string path = temp_path("client.sock");
  UnixServer server(path, echo);
  std::thread t([&] { server.run(); });
  auto r = unix_request(path, "POST", "/x", "body");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "text/plain");
  EXPECT_EQ(r.body, "POST /x body");
  auto g = unix_request(path, "GET", "/status");
  EXPECT_EQ(g.body, "GET /status ");
  server.stop();
  t.join();
}

TEST(HttpClient, ErrorsNameTheSocket) {
  try {
    unix_request("/nonexistent/wgnet.sock", "GET", "/status");
    FAIL() << "no error";
  } catch (const SystemError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/wgnet.sock"), std::string::npos);
  }
  // A server that accepts and never answers: the timeout, not a hang.
  std::string path = temp_path("mute.sock");
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  ::unlink(path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ClientOptions o;
  o.timeout = std::chrono::milliseconds(200);
  EXPECT_THROW(unix_request(path, "GET", "/status", {}, o), SystemError);
  ::close(fd);
  ::unlink(path.c_str());
}
