// The HTTP server against a real unix socket (and loopback TCP, for clients told apart by
// address): replies, keep-alive, concurrency, error replies, limits (of what a connection may
// send, of connections in all and per client, of waiting calls, of a handler's time) and shutdown.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

#include "http/server.h"
#include "http_client.h"
#include "temp_dir.h"

using namespace wgnet::http;
using wgnet::http::testing::docker_request;
using wgnet::http::testing::Loopback;
using wgnet::http::testing::RawClient;
using wgnet::http::testing::Reply;
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

// Counts handler calls that have begun; the test waits (boundedly) until enough have.
class Counter {
 public:
  void arrive() {
    std::lock_guard lock(mutex_);
    ++count_;
    changed_.notify_all();
  }
  bool wait_for(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kPatience, [&] { return count_ >= count; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int count_ = 0;
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

// Far more than any limit lets a connection send, and, with the client's small send buffer (see
// RawClient::flood), more than a server that stops reading early can have taken.
constexpr std::size_t kFlood = 64 << 20;
constexpr std::size_t kMostTaken = 1 << 20;

class HttpServer : public ::testing::Test {
 protected:
  void SetUp() override {
    // A directory that does not exist yet, as /run/docker/plugins may not on a fresh boot.
    path_ = (root_ / "plugins" / "wgnet.sock").string();
  }
  void TearDown() override {
    stuck_may_finish_.open();  // a failed test must not leave stop() waiting for its handlers
    stop();
  }

  // The server's own errors in the shape Docker expects, as wgnetd words them.
  static Response err_json(unsigned status, std::string_view message) {
    return {status, "application/json",
            nlohmann::json{{"Err", message}}.dump(-1, ' ', false,
                                                  nlohmann::json::error_handler_t::replace)};
  }
  void start(Handler handler, ServerOptions options = {}) {
    options.error_reply = err_json;
    server_ = std::make_unique<UnixServer>(path_, std::move(handler), options);
    running_ = std::async(std::launch::async, [this] { server_->run(); });
  }
  // The same on loopback TCP, where clients can be told apart by address; returns its port.
  uint16_t start_tcp(Handler handler, ServerOptions options) {
    options.error_reply = err_json;
    tcp_server_ = std::make_unique<TcpServer>("127.0.0.1", 0, std::move(handler), options);
    running_ = std::async(std::launch::async, [this] { tcp_server_->run(); });
    return tcp_server_->port();
  }
  // True if run() returned within the patience; the server object is then destroyed.
  bool stop() {
    if (server_)
      server_->stop();
    else if (tcp_server_)
      tcp_server_->stop();
    else
      return true;
    const bool returned = running_.wait_for(kPatience) == std::future_status::ready;
    if (returned) {
      server_.reset();
      tcp_server_.reset();
    }
    return returned;
  }

  // For the tests of a handler's time: a call to /Stuck blocks until the test opens
  // stuck_may_finish_; any other is echoed at once. Both kinds are counted.
  void start_with_stuck_calls(ServerOptions options) {
    start(
        [this](const Request& request) {
          if (request.target == "/Stuck") {
            stuck_entered_.arrive();
            stuck_may_finish_.wait();
            ++stuck_returned_;
          } else {
            ++other_calls_;
          }
          return echo(request);
        },
        options);
  }

  // Sends `head`, then `piece` over and over (kFlood bytes), and returns the reply; fails the
  // test if the server read on instead of refusing early.
  std::optional<Reply> refused_early(const std::string& head, const std::string& piece) {
    RawClient client(path_);
    EXPECT_TRUE(client.send(head));
    EXPECT_LT(client.flood(piece, kFlood), kMostTaken) << "the server read on";
    return client.read_reply();
  }

  wgnet::testing::TempDir tmp_{"wgnet-http-test"};
  fs::path root_ = tmp_.path();
  std::string path_;
  std::unique_ptr<UnixServer> server_;
  std::unique_ptr<TcpServer> tcp_server_;
  std::future<void> running_;
  Counter stuck_entered_;
  Gate stuck_may_finish_;
  std::atomic<int> stuck_returned_ = 0;
  std::atomic<int> other_calls_ = 0;
};

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

// What one connection may make the server read and hold.

namespace {

std::string chunked_head(std::string_view target) {
  return "POST " + std::string(target) +
         " HTTP/1.1\r\nHost: plugin\r\nTransfer-Encoding: chunked\r\n\r\n";
}

}  // namespace

TEST_F(HttpServer, RefusesAChunkedBodyWith411AndCloses) {
  start_with_stuck_calls({});
  RawClient client(path_);
  ASSERT_TRUE(client.send(chunked_head("/NetworkDriver.Join") + "2\r\n{}\r\n0\r\n\r\n"));
  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 411u);
  EXPECT_EQ(reply->body,
            R"({"Err":"Transfer-Encoding is not supported: send the request body with a )"
            R"(Content-Length"})");
  EXPECT_TRUE(client.closed_by_peer());
  EXPECT_EQ(other_calls_, 0);
}

TEST_F(HttpServer, RefusesEndlessChunkExtensionsWithoutReadingThem) {
  start(echo);
  auto reply = refused_early(chunked_head("/A") + "1;ext=", std::string(64 * 1024, 'a'));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 411u);
}

TEST_F(HttpServer, RefusesEndlessTrailersWithoutReadingThem) {
  start(echo);
  std::string trailers;
  while (trailers.size() < 64 * 1024) trailers += "X-Trailer: 0123456789abcdef\r\n";
  auto reply = refused_early(chunked_head("/A") + "0\r\n", trailers);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 411u);
}

TEST_F(HttpServer, RefusesAnEndlessChunkedBodyWithoutReadingIt) {
  start(echo);
  auto reply = refused_early(chunked_head("/A"), "10000\r\n" + std::string(0x10000, 'x') + "\r\n");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 411u);
}

TEST_F(HttpServer, RefusesAnOversizedBodyOnItsContentLengthWithoutReadingIt) {
  start_with_stuck_calls({});
  auto reply =
      refused_early("POST /A HTTP/1.1\r\nContent-Length: " + std::to_string(kFlood) + "\r\n\r\n",
                    std::string(64 * 1024, 'x'));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 413u);
  EXPECT_EQ(other_calls_, 0);
}

TEST_F(HttpServer, RefusesAnEndlessHeaderWithoutReadingIt) {
  start(echo);
  auto reply = refused_early("POST /A HTTP/1.1\r\nX-Long: ", std::string(64 * 1024, 'a'));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 431u);
  EXPECT_EQ(reply->body.rfind(R"({"Err":"request header exceeds the limit)", 0), 0u) << reply->body;
}

// How many connections, calls and threads, and for how long.

TEST_F(HttpServer, RefusesConnectionsOverTheCapWith503WhenEachHasACallInProgress) {
  ServerOptions options;
  options.max_connections = 3;
  start_with_stuck_calls(options);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<RawClient>(path_));
    ASSERT_TRUE(clients.back()->send(docker_request("/Stuck")));
  }
  ASSERT_TRUE(stuck_entered_.wait_for(3));

  RawClient extra(path_);
  auto refusal = extra.call("/Extra");  // the server may close before the request is sent: fine
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->status, 503u);
  EXPECT_EQ(refusal->body,
            R"({"Err":"too many connections: 3 are open already, the most this server takes; )"
            R"(try again later"})");
  EXPECT_TRUE(extra.closed_by_peer());
  EXPECT_EQ(other_calls_, 0) << "the refused connection's request reached the handler";

  stuck_may_finish_.open();
  for (auto& client : clients) {
    auto reply = client->read_reply();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200u);
  }
  // Answered, they wait for their next call: a newcomer takes the place of one of them.
  auto reply = RawClient(path_).call("/Later");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200u);
}

TEST_F(HttpServer, AnswersACallWhile200ClientsHoldHalfARequestHead) {
  start(echo);  // the defaults, as on the plugin socket: no cap per client
  const std::string head = docker_request("/NetworkDriver.Join", "{}");
  std::vector<std::unique_ptr<RawClient>> holders;
  for (int i = 0; i < 200; ++i) {
    holders.push_back(std::make_unique<RawClient>(path_));
    holders.back()->send(head.substr(0, head.size() / 2));
  }
  auto reply = RawClient(path_, 5).call("/Plugin.Activate");
  ASSERT_TRUE(reply) << "no reply within 5 s";
  EXPECT_EQ(reply->status, 200u) << reply->body;
  EXPECT_EQ(reply->body, R"({"Target":"/Plugin.Activate","Body":""})");
}

TEST_F(HttpServer, MakesRoomByClosingTheLongestSilentConnectionNeverOneWithACallInProgress) {
  ServerOptions options;
  options.max_connections = 3;
  start_with_stuck_calls(options);
  RawClient busy(path_);
  ASSERT_TRUE(busy.send(docker_request("/Stuck")));
  ASSERT_TRUE(stuck_entered_.wait_for(1));
  RawClient silent(path_);
  RawClient answered(path_);  // waits for its next call since its reply, after `silent` connected
  ASSERT_TRUE(answered.call("/First"));

  auto reply = RawClient(path_).call("/Newcomer");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200u) << reply->body;
  EXPECT_TRUE(silent.closed_by_peer());
  reply = answered.call("/Again");
  ASSERT_TRUE(reply) << "the connection closed was not the longest silent one";
  EXPECT_EQ(reply->status, 200u);
  stuck_may_finish_.open();
  reply = busy.read_reply();
  ASSERT_TRUE(reply) << "a connection with a call in progress was closed";
  EXPECT_EQ(reply->status, 200u);
}

TEST_F(HttpServer, RefusesAClientsConnectionOverItsCapWith503AndServesOtherClients) {
  ServerOptions options;
  options.max_connections_per_client = 2;
  const uint16_t port = start_tcp(echo, options);
  const Loopback one{port, "127.0.0.1"};
  RawClient first(one), second(one);
  // Each answered once, so each is surely accepted and open.
  for (auto* client : {&first, &second}) {
    auto reply = client->call("/Plugin.Activate");
    ASSERT_TRUE(reply && reply->status == 200u);
  }

  RawClient extra(one);
  auto refusal = extra.call("/Extra");
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->status, 503u);
  EXPECT_EQ(refusal->body,
            R"({"Err":"too many connections from one client: 2 of yours are open already, the )"
            R"(most one client may have; close one or try again later"})");
  EXPECT_TRUE(extra.closed_by_peer());

  auto other = RawClient(Loopback{port, "127.0.0.2"}).call("/Other");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200u);
  for (auto* client : {&first, &second}) {
    auto reply = client->call("/Again");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200u);
  }
}

TEST_F(HttpServer, AnswersCheapCallsWhileEverySlowThreadIsBusy) {
  constexpr int kSlowThreads = 2;
  ServerOptions options;
  options.handler_threads = kSlowThreads;
  options.is_cheap = [](std::string_view target) { return target == "/Cheap"; };
  start_with_stuck_calls(options);

  // Every slow thread busy, and one more slow call waiting for them.
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < kSlowThreads + 1; ++i) {
    slow.push_back(std::make_unique<RawClient>(path_));
    ASSERT_TRUE(slow.back()->send(docker_request("/Stuck")));
  }
  ASSERT_TRUE(stuck_entered_.wait_for(kSlowThreads));

  // Half the patience: the stuck handlers' gate gives up after all of it.
  auto cheap_reply = RawClient(path_, std::chrono::seconds(kPatience).count() / 2).call("/Cheap");
  EXPECT_EQ(stuck_returned_, 0) << "the cheap call waited for the slow ones";
  stuck_may_finish_.open();
  ASSERT_TRUE(cheap_reply);
  EXPECT_EQ(cheap_reply->body, R"({"Target":"/Cheap","Body":""})");
  for (auto& client : slow) {
    auto reply = client->read_reply();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200u);
  }
}

TEST_F(HttpServer, AnswersAStuckCallAtItsDeadlineAndDropsItsLateResult) {
  ServerOptions options;
  options.handler_deadline = 250ms;
  start_with_stuck_calls(options);
  RawClient client(path_);
  auto reply = client.call("/Stuck");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 504u);
  EXPECT_EQ(reply->body,
            R"({"Err":"/Stuck did not finish within 0.25 s; it may still complete, but its )"
            R"(result will be discarded"})");

  // The connection goes on serving, and the late result never reaches it.
  stuck_may_finish_.open();
  for (const std::string target : {"/Next", "/After"}) {
    reply = client.call(target);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->body, R"({"Target":")" + target + R"(","Body":""})");
  }
}

TEST_F(HttpServer, ReplacesStuckHandlerThreadsUpToABoundAndExpiresCallsThatWaited) {
  ServerOptions options;
  options.handler_threads = 1;
  options.handler_deadline = 250ms;
  start_with_stuck_calls(options);

  // The first stuck call takes the lane's one thread; past its deadline, a second thread runs
  // the next call in its place.
  RawClient first(path_), second(path_), third(path_);
  for (auto* client : {&first, &second}) {
    auto reply = client->call("/Stuck");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 504u);
    EXPECT_NE(reply->body.find("may still complete"), std::string::npos) << reply->body;
  }
  ASSERT_TRUE(stuck_entered_.wait_for(2));

  // Both threads the lane may have are stuck: the next call waits, and expires unrun.
  auto reply = third.call("/Fine");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 504u);
  EXPECT_EQ(reply->body,
            R"({"Err":"/Fine did not finish within 0.25 s: it was still waiting for a handler )"
            R"json(thread and was not run (server overloaded)"})json");
  EXPECT_EQ(other_calls_, 0);

  // Once the stuck handlers return, the lane serves again.
  stuck_may_finish_.open();
  reply = third.call("/Fine");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200u);
  EXPECT_EQ(other_calls_, 1);
}

TEST_F(HttpServer, RefusesCallsPastTheQueueBoundWith503) {
  ServerOptions options;
  options.handler_threads = 1;
  options.max_queued_calls = 1;
  start_with_stuck_calls(options);
  RawClient stuck(path_);
  ASSERT_TRUE(stuck.send(docker_request("/Stuck")));
  ASSERT_TRUE(stuck_entered_.wait_for(1));

  // Two more calls for one place in the queue: whichever comes second is refused at once.
  auto call = [this] { return RawClient(path_).call("/Waiting"); };
  auto a = std::async(std::launch::async, call);
  auto b = std::async(std::launch::async, call);
  const auto give_up = std::chrono::steady_clock::now() + kPatience;
  while (a.wait_for(10ms) != std::future_status::ready &&
         b.wait_for(10ms) != std::future_status::ready &&
         std::chrono::steady_clock::now() < give_up) {
  }
  const bool a_first = a.wait_for(0s) == std::future_status::ready;
  auto refused = (a_first ? a : b).get();
  stuck_may_finish_.open();
  auto served = (a_first ? b : a).get();
  ASSERT_TRUE(refused && served);
  EXPECT_EQ(refused->status, 503u);
  EXPECT_EQ(refused->body,
            R"({"Err":"server busy: too many calls are waiting for a handler thread )"
            R"((the limit is 1); try again later"})");
  EXPECT_EQ(served->status, 200u);
  auto stuck_reply = stuck.read_reply();
  ASSERT_TRUE(stuck_reply);
  EXPECT_EQ(stuck_reply->status, 200u);
}

TEST_F(HttpServer, StopClosesConnectionsAtOnceAndWaitsForAHandlerStuckPastItsDeadline) {
  ServerOptions options;
  options.handler_deadline = 250ms;
  start_with_stuck_calls(options);
  RawClient client(path_);
  auto reply = client.call("/Stuck");
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->status, 504u);

  server_->stop();
  EXPECT_TRUE(client.closed_by_peer());
  // run() still waits: the handler may use what its caller tears down after run().
  EXPECT_EQ(running_.wait_for(50ms), std::future_status::timeout);
  stuck_may_finish_.open();
  // The late result arrives at a stopped server, which is then destroyed.
  EXPECT_TRUE(stop());
}

TEST(HttpErrors, TheDefaultErrorReplyIsPlainText) {
  auto r = plain_error(413, "too big");
  EXPECT_EQ(r.status, 413u);
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r.body, "too big\n");
}
