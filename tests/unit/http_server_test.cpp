// The HTTP server against a real unix socket: replies, keep-alive, concurrency, error replies,
// limits and shutdown.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "http/server.h"
#include "http_client.h"

using namespace wgnet::http;
using wgnet::http::testing::docker_request;
using wgnet::http::testing::RawClient;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Long enough never to trip on a loaded machine; a correct server answers in milliseconds.
constexpr auto kPatience = 10s;

// Counts handler calls in flight and lets them go on only once `expected` are in at the same
// moment: if the server ran them one at a time, each would time out alone.
class Rendezvous {
 public:
  explicit Rendezvous(int expected) : expected_(expected) {}
  bool arrive_and_wait() {
    std::unique_lock lock(mutex_);
    if (++arrived_ >= expected_) changed_.notify_all();
    return changed_.wait_for(lock, kPatience, [&] { return arrived_ >= expected_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  const int expected_;
  int arrived_ = 0;
};

// A one-shot gate: a handler waits on it (boundedly), the test opens it.
class Gate {
 public:
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  bool wait() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kPatience, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
};

class HttpServer : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wgnet-http-test-XXXXXX";
    root_ = ::mkdtemp(tmpl);
    // A directory that does not exist yet, as /run/docker/plugins may not on a fresh boot.
    path_ = (root_ / "plugins" / "wgnet.sock").string();
  }
  void TearDown() override {
    stop();
    fs::remove_all(root_);
  }

  void start(Handler handler, ServerOptions options = {}) {
    server_ = std::make_unique<UnixServer>(path_, std::move(handler), options);
    running_ = std::async(std::launch::async, [this] { server_->run(); });
  }
  // True if run() returned within the patience; the server object is then destroyed.
  bool stop() {
    if (!server_) return true;
    server_->stop();
    const bool returned = running_.wait_for(kPatience) == std::future_status::ready;
    if (returned) server_.reset();
    return returned;
  }

  fs::path root_;
  std::string path_;
  std::unique_ptr<UnixServer> server_;
  std::future<void> running_;
};

Response json(std::string body) {
  Response r;
  r.body = std::move(body);
  return r;
}

// Replies with the target and body it got, so a test can tell the replies apart.
Response echo(const Request& request) {
  return json(R"({"Target":")" + request.target + R"(","Body":")" + request.body + R"("})");
}

}  // namespace

TEST_F(HttpServer, AnswersDockerActivation) {
  std::mutex mutex;
  std::vector<Request> seen;
  start([&](const Request& request) {
    std::lock_guard lock(mutex);
    seen.push_back(request);
    return json(R"({"Implements":["NetworkDriver"]})");
  });

  RawClient client(path_);
  ASSERT_TRUE(client.send(docker_request("/Plugin.Activate")));
  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200u);
  EXPECT_EQ(reply->headers["content-type"], "application/vnd.docker.plugins.v1+json");
  EXPECT_EQ(reply->headers["content-length"], std::to_string(reply->body.size()));
  EXPECT_EQ(reply->body, R"({"Implements":["NetworkDriver"]})");

  std::lock_guard lock(mutex);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/Plugin.Activate");
  EXPECT_EQ(seen[0].body, "");
}

TEST_F(HttpServer, ServesSeveralRequestsOnOneKeepAliveConnection) {
  start(echo);
  RawClient client(path_);
  for (int i = 0; i < 3; ++i) {
    const std::string target = "/NetworkDriver.Call" + std::to_string(i);
    ASSERT_TRUE(client.send(docker_request(target, "n" + std::to_string(i))));
    auto reply = client.read_reply();
    ASSERT_TRUE(reply) << "request " << i;
    EXPECT_EQ(reply->status, 200u);
    EXPECT_EQ(reply->body,
              R"({"Target":")" + target + R"(","Body":"n)" + std::to_string(i) + R"("})");
  }
}

TEST_F(HttpServer, AnswersPipelinedRequestsInOrder) {
  start(echo);
  RawClient client(path_);
  ASSERT_TRUE(client.send(docker_request("/A", "1") + docker_request("/B", "2")));
  auto first = client.read_reply();
  auto second = client.read_reply();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->body, R"({"Target":"/A","Body":"1"})");
  EXPECT_EQ(second->body, R"({"Target":"/B","Body":"2"})");
}

TEST_F(HttpServer, RunsHandlersOfConcurrentConnectionsAtTheSameTime) {
  constexpr int kClients = 8;
  Rendezvous rendezvous(kClients);
  ServerOptions options;
  options.handler_threads = kClients;
  start([&](const Request&) { return json(rendezvous.arrive_and_wait() ? "together" : "alone"); },
        options);

  std::vector<std::future<std::string>> replies;
  for (int i = 0; i < kClients; ++i)
    replies.push_back(std::async(std::launch::async, [this] {
      RawClient client(path_);
      if (!client.send(docker_request("/NetworkDriver.Join", "{}\n")))
        return std::string("send failed");
      auto reply = client.read_reply();
      return reply ? reply->body : std::string("no reply");
    }));
  for (auto& reply : replies) EXPECT_EQ(reply.get(), "together");
}

TEST_F(HttpServer, SlowHandlerDoesNotHoldUpOtherConnections) {
  Gate slow_entered, slow_may_finish;
  start([&](const Request& request) {
    if (request.target == "/Slow") {
      slow_entered.open();
      slow_may_finish.wait();
    }
    return json("{}");
  });

  RawClient slow(path_);
  ASSERT_TRUE(slow.send(docker_request("/Slow")));
  ASSERT_TRUE(slow_entered.wait());

  RawClient fast(path_);
  ASSERT_TRUE(fast.send(docker_request("/Fast")));
  auto fast_reply = fast.read_reply();
  slow_may_finish.open();
  ASSERT_TRUE(fast_reply);
  EXPECT_EQ(fast_reply->status, 200u);
  auto slow_reply = slow.read_reply();
  ASSERT_TRUE(slow_reply);
  EXPECT_EQ(slow_reply->status, 200u);
}

TEST_F(HttpServer, ThrowingHandlerGives500WithErrAndKeepsServing) {
  start([](const Request& request) -> Response {
    if (request.target == "/Throw") throw std::runtime_error("boom \"quoted\"");
    return json("{}");
  });
  RawClient client(path_);
  ASSERT_TRUE(client.send(docker_request("/Throw")));
  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 500u);
  EXPECT_EQ(reply->body, R"({"Err":"internal error: boom \"quoted\""})");

  ASSERT_TRUE(client.send(docker_request("/Fine")));
  reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200u);
}

TEST_F(HttpServer, EmptyReplyStillCarriesContentLength) {
  start([](const Request&) { return Response{}; });
  RawClient client(path_);
  ASSERT_TRUE(client.send(docker_request("/Plugin.Activate")));
  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200u);
  EXPECT_EQ(reply->headers["content-length"], "0");
}

TEST_F(HttpServer, StatusWithoutABodyBecomes500) {
  start([](const Request&) {
    Response r = json("{}");
    r.status = 204;
    return r;
  });
  RawClient client(path_);
  ASSERT_TRUE(client.send(docker_request("/Plugin.Activate")));
  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 500u);
  EXPECT_EQ(reply->body, R"({"Err":"internal error: handler returned HTTP status 204"})");
}

TEST_F(HttpServer, OversizedBodyGives413) {
  std::atomic<int> calls = 0;
  start([&](const Request&) {
    ++calls;
    return json("{}");
  });
  const std::string body(ServerOptions{}.body_limit + 1, 'x');
  RawClient client(path_);
  // The server may answer and close before taking the whole body, so a failed send is fine.
  client.send(docker_request("/NetworkDriver.CreateNetwork", body));
  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 413u);
  EXPECT_EQ(reply->body.rfind(R"({"Err":"request body exceeds)", 0), 0u) << reply->body;
  EXPECT_EQ(calls, 0);
}

TEST_F(HttpServer, GarbageGives400AndCloses) {
  start(echo);
  RawClient client(path_);
  ASSERT_TRUE(client.send("this is not HTTP at all\r\n\r\n"));
  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 400u);
  EXPECT_EQ(reply->body.rfind(R"({"Err":"malformed HTTP request)", 0), 0u) << reply->body;
  EXPECT_TRUE(client.closed_by_peer());
}

TEST_F(HttpServer, ClosesIdleConnections) {
  ServerOptions options;
  options.idle_timeout = 100ms;
  start(echo, options);
  RawClient client(path_);
  EXPECT_TRUE(client.closed_by_peer());
}

TEST_F(HttpServer, StopReturnsPromptlyWithAnIdleConnectionAndRemovesTheSocket) {
  start(echo);
  RawClient client(path_);
  ASSERT_TRUE(client.send(docker_request("/Plugin.Activate")));
  ASSERT_TRUE(client.read_reply());  // now idle, kept alive

  ASSERT_TRUE(stop());
  EXPECT_FALSE(fs::exists(fs::symlink_status(path_)));
  EXPECT_TRUE(client.closed_by_peer());
}

TEST_F(HttpServer, StopWaitsForARunningHandlerAndDropsItsConnection) {
  Gate entered, may_finish;
  start([&](const Request&) {
    entered.open();
    may_finish.wait();
    return json("{}");
  });
  RawClient client(path_);
  ASSERT_TRUE(client.send(docker_request("/NetworkDriver.Join", "{}\n")));
  ASSERT_TRUE(entered.wait());

  server_->stop();
  // The connection goes at once; run() waits, because the handler may use what its caller is
  // about to tear down.
  EXPECT_TRUE(client.closed_by_peer());
  EXPECT_EQ(running_.wait_for(50ms), std::future_status::timeout);
  may_finish.open();
  EXPECT_TRUE(stop());
}

TEST_F(HttpServer, StopBeforeRunMakesRunReturnAtOnce) {
  UnixServer server(path_, echo);
  server.stop();
  auto running = std::async(std::launch::async, [&] { server.run(); });
  EXPECT_EQ(running.wait_for(kPatience), std::future_status::ready);
}

TEST_F(HttpServer, DestructorRemovesTheSocketWithoutRun) {
  { UnixServer server(path_, echo); }
  EXPECT_FALSE(fs::exists(fs::symlink_status(path_)));
}
