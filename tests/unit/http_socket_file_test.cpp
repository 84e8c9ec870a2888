// The socket file of the HTTP server: directory creation, mode, stale and foreign files.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>

#include "http/server.h"
#include "http_client.h"
#include "temp_dir.h"
#include "util/error.h"
#include "util/fd.h"

using namespace wgnet;
using wgnet::http::testing::docker_request;
using wgnet::http::testing::RawClient;
namespace fs = std::filesystem;

namespace {

http::Response empty_json(const http::Request&) {
  http::Response r;
  r.body = "{}";
  return r;
}

// What a crashed daemon leaves behind: a socket file nobody listens on.
void leave_stale_socket(const std::string& path) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const SystemError& e) {
    return e.what();
  }
  return "no SystemError";
}

class HttpSocketFile : public ::testing::Test {
 protected:
  void SetUp() override { path_ = (root_ / "wgnet.sock").string(); }

  wgnet::testing::TempDir tmp_{"wgnet-http-sock-test"};
  fs::path root_ = tmp_.path();
  std::string path_;
};

}  // namespace

TEST_F(HttpSocketFile, IsOwnerOnlyInACreatedDirectory) {
  const std::string nested = (root_ / "run" / "docker" / "plugins" / "wgnet.sock").string();
  http::UnixServer server(nested, empty_json);
  EXPECT_EQ(server.path(), nested);
  struct stat st {};
  ASSERT_EQ(::lstat(nested.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat((root_ / "run" / "docker" / "plugins").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST_F(HttpSocketFile, ReplacesAStaleSocket) {
  leave_stale_socket(path_);
  ASSERT_TRUE(fs::is_socket(path_));
  http::UnixServer server(path_, empty_json);
  auto running = std::async(std::launch::async, [&] { server.run(); });
  RawClient client(path_);
  ASSERT_TRUE(client.send(docker_request("/Plugin.Activate")));
  auto reply = client.read_reply();
  server.stop();
  running.get();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200u);
}

TEST_F(HttpSocketFile, RefusesARegularFile) {
  std::ofstream(path_) << "precious";
  const auto message = error_of([&] { http::UnixServer(path_, empty_json); });
  EXPECT_NE(message.find(path_ + " exists and is not a socket"), std::string::npos) << message;
  std::ifstream in(path_);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST_F(HttpSocketFile, RefusesASocketAnotherServerListensOn) {
  http::UnixServer first(path_, empty_json);
  const auto message = error_of([&] { http::UnixServer(path_, empty_json); });
  EXPECT_NE(message.find("already serving on " + path_), std::string::npos) << message;
  EXPECT_TRUE(fs::is_socket(path_));
}

TEST_F(HttpSocketFile, LeavesASocketThatReplacedItsOwnAlone) {
  auto server = std::make_unique<http::UnixServer>(path_, empty_json);
  // Another daemon took the path over (e.g. after deciding ours was stale).
  fs::remove(path_);
  leave_stale_socket(path_);
  server.reset();
  EXPECT_TRUE(fs::is_socket(path_));
}

TEST_F(HttpSocketFile, RefusesAPathTooLongForAUnixSocket) {
  const std::string long_path = (root_ / std::string(120, 's')).string();
  const auto message = error_of([&] { http::UnixServer(long_path, empty_json); });
  EXPECT_NE(message.find("too long"), std::string::npos) << message;
}
