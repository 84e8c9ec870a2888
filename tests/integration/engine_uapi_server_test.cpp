// engine/uapi_server against real unix sockets in a private directory: socket file mode, several
// operations per connection, wireguard-go's replies and errnos, bounds (request size, connection
// count), stale and live sockets, and a socket file deleted under the server.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/linux/uapi_server.h"
#include "util/error.h"
#include "util/fd.h"

using namespace wgnet;
using namespace wgnet::engine;
using namespace std::chrono_literals;

namespace {

Fd connect_to(const std::string& path) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.data(), path.size());
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    throw SystemError("connect " + path + ": " + std::strerror(errno));
  return fd;
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t w = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (w <= 0) return;
    data.remove_prefix(static_cast<size_t>(w));
  }
}

// Reads until `until` has been seen `count` times, EOF, or 3 s of silence.
std::string read_replies(int fd, const std::string& until = "\n\n", int count = 1) {
  std::string out;
  char buf[65536];
  for (;;) {
    size_t seen = 0;
    for (size_t at = out.find(until); at != std::string::npos; at = out.find(until, at + 1)) seen++;
    if (seen >= static_cast<size_t>(count)) return out;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 3000) <= 0) return out;
    ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) return out + "<EOF>";
    out.append(buf, static_cast<size_t>(r));
  }
}

class UapiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("wgnet-uapi-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  UapiServer::Handlers handlers() {
    UapiServer::Handlers h;
    h.set = [this](std::string_view body) {
      std::lock_guard lock(mu_);
      sets_.emplace_back(body);
      return body.find("listen_port=bad") != std::string_view::npos ? -22 : 0;
    };
    h.get = [] { return std::string("private_key=00\nlisten_port=1\nerrno=0\n\n"); };
    return h;
  }
  std::string path(const std::string& name) { return UapiServer::socket_path(dir_, name); }

  std::filesystem::path dir_;
  std::mutex mu_;
  std::vector<std::string> sets_;
};

}  // namespace

TEST_F(UapiServerTest, SocketIsPrivateAndAnswersSeveralOperationsPerConnection) {
  UapiServer server(dir_, {});
  server.add("wgt0", handlers());
  struct stat st {};
  ASSERT_EQ(::stat(path("wgt0").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  Fd c = connect_to(path("wgt0"));
  // Pipelined: a get, a set, an empty set, a get with a trailing character (EINVAL), a get.
  send_all(c.get(), "get=1\n\nset=1\nprivate_key=ab\nlisten_port=5\n\nset=1\n\nget=1\nXget=1\n\n");
  const std::string got = read_replies(c.get(), "\n\n", 5);
  EXPECT_EQ(got,
            "private_key=00\nlisten_port=1\nerrno=0\n\n"
            "errno=0\n\n"
            "errno=0\n\n"
            "errno=-22\n\n"
            "private_key=00\nlisten_port=1\nerrno=0\n\n");
  std::lock_guard lock(mu_);
  ASSERT_EQ(sets_.size(), 2u);
  EXPECT_EQ(sets_[0], "private_key=ab\nlisten_port=5\n");
  EXPECT_EQ(sets_[1], "");
}

TEST_F(UapiServerTest, ErrorsUnknownOperationsAndEndOfInput) {
  UapiServer server(dir_, {});
  server.add("wgt0", handlers());
  {
    Fd c = connect_to(path("wgt0"));
    send_all(c.get(), "set=1\nlisten_port=bad\n\n");
    EXPECT_EQ(read_replies(c.get()), "errno=-22\n\n");
  }
  {
    // wireguard-go closes the connection on an operation it does not know, with no reply.
    Fd c = connect_to(path("wgt0"));
    send_all(c.get(), "hello=1\n\n");
    EXPECT_EQ(read_replies(c.get()), "<EOF>");
  }
  {
    // A set cut short by the end of input is applied as far as it goes.
    Fd c = connect_to(path("wgt0"));
    send_all(c.get(), "set=1\nfwmark=3\n");
    ::shutdown(c.get(), SHUT_WR);
    EXPECT_EQ(read_replies(c.get()), "errno=0\n\n");
  }
  std::lock_guard lock(mu_);
  ASSERT_EQ(sets_.size(), 2u);
  EXPECT_EQ(sets_[1], "fwmark=3\n");
}

TEST_F(UapiServerTest, RequestsAndConnectionsAreBounded) {
  UapiServer::Limits limits;
  limits.max_request = 1 << 20;
  limits.max_connections = 2;
  UapiServer server(dir_, limits);
  server.add("wgt0", handlers());
  {
    Fd c = connect_to(path("wgt0"));
    std::string big = "set=1\n";
    while (big.size() < (3u << 20)) big += "allowed_ip=10.0.0.0/8\n";
    std::thread writer([&] { send_all(c.get(), big); });
    const std::string got = read_replies(c.get(), "<EOF>");
    ::shutdown(c.get(), SHUT_RDWR);
    writer.join();
    EXPECT_TRUE(got.starts_with("errno=-5\n\n")) << got.substr(0, 40);
  }
  Fd c1 = connect_to(path("wgt0"));
  Fd c2 = connect_to(path("wgt0"));
  send_all(c1.get(), "get=1\n\n");
  send_all(c2.get(), "get=1\n\n");
  EXPECT_TRUE(read_replies(c1.get()).ends_with("errno=0\n\n"));
  EXPECT_TRUE(read_replies(c2.get()).ends_with("errno=0\n\n"));
  // A third is accepted and closed at once (never left in the backlog: `wg` unlinks a socket
  // whose connect is refused).
  Fd c3 = connect_to(path("wgt0"));
  send_all(c3.get(), "get=1\n\n");
  EXPECT_EQ(read_replies(c3.get()), "<EOF>");
}

TEST_F(UapiServerTest, StaleSocketsAreReplacedLiveOnesRefused) {
  {
    Fd stale = UapiServer::listen(dir_, "wgt0");  // closed: a file nobody accepts on
  }
  ASSERT_TRUE(std::filesystem::exists(path("wgt0")));
  UapiServer server(dir_, {});
  server.add("wgt0", handlers());
  EXPECT_THROW(UapiServer::listen(dir_, "wgt0"), SystemError);
  EXPECT_THROW(server.add("wgt0", handlers()), SystemError);
  EXPECT_THROW(server.add("../x", handlers()), InputError);
  Fd c = connect_to(path("wgt0"));
  send_all(c.get(), "get=1\n\n");
  EXPECT_TRUE(read_replies(c.get()).ends_with("errno=0\n\n"));
  server.remove("wgt0");
  EXPECT_FALSE(std::filesystem::exists(path("wgt0")));
}

// What a killed server leaves is removed; a live socket, or a file that is not a socket, stays.
TEST_F(UapiServerTest, RemoveStaleTakesOnlyDeadSockets) {
  {
    Fd stale = UapiServer::listen(dir_, "wgt0");
  }
  UapiServer::remove_stale(dir_, "wgt0");
  EXPECT_FALSE(std::filesystem::exists(path("wgt0")));
  UapiServer::remove_stale(dir_, "wgt0");  // nothing there: nothing happens
  UapiServer server(dir_, {});
  server.add("wgt1", handlers());
  UapiServer::remove_stale(dir_, "wgt1");
  ASSERT_TRUE(std::filesystem::exists(path("wgt1")));
  Fd c = connect_to(path("wgt1"));
  send_all(c.get(), "get=1\n\n");
  EXPECT_TRUE(read_replies(c.get()).ends_with("errno=0\n\n"));
  { std::ofstream(path("wgt2")) << "not a socket"; }
  UapiServer::remove_stale(dir_, "wgt2");
  EXPECT_TRUE(std::filesystem::exists(path("wgt2")));
}

TEST_F(UapiServerTest, SocketFileDeletedUnderTheServerIsReported) {
  std::atomic<int> removed{0};
  UapiServer server(dir_, {}, [&](const std::string& name) {
    if (name == "wgt1") removed++;
  });
  server.add("wgt0", handlers());
  server.add("wgt1", handlers());
  server.remove("wgt0");  // our own removal is not reported
  ASSERT_EQ(::unlink(path("wgt1").c_str()), 0);
  for (int i = 0; i < 300 && removed == 0; i++) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(removed, 1);
}
