// One client connection: reads requests one after another (keep-alive), runs each through the
// handler on a worker lane under a deadline and writes the reply. Internal to the HTTP layer.
#pragma once
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "http/message.h"
#include "http/server.h"
#include "http/worker_pool.h"
#include "util/throttle.h"

namespace wgnet::http {

using WireResponse = boost::beast::http::response<boost::beast::http::string_body>;

// `response` as Beast serializes it, with Content-Length and the Connection header set.
WireResponse to_wire(Response response, bool keep_alive);

// What the sessions of one server share. The server owns it, and it outlives every operation of
// every session and every job on its lanes.
struct SessionShared {
  SessionShared(Handler handler_fn, const ServerOptions& options);
  WorkerPool& lane_for(std::string_view target);

  const Handler handler;
  const ServerOptions options;
  WorkerPool cheap_lane;
  WorkerPool slow_lane;
  Throttle busy_warnings;  // io thread only
};

// Lives as long as an operation on it is pending (shared_from_this in every completion). All
// members except the handler call are touched only from the io_context's single thread.
class Session : public std::enable_shared_from_this<Session> {
 public:
  // Generic, so one session type serves unix sockets and TCP alike.
  using Socket = boost::asio::generic::stream_protocol::socket;

  Session(Socket socket, SessionShared& shared);

  void start() { read_request(); }
  // Drops the connection at once, whatever is in progress. io_context thread only.
  void close();
  // False once the connection is closed, though a handler may still hold the session.
  bool is_open() const { return stream_.socket().is_open(); }
  // Since when it has waited for the head of its next request (since it connected, or since its
  // last reply went out); nullopt while a request is in progress. io_context thread only.
  std::optional<std::chrono::steady_clock::time_point> waiting_since() const {
    return waiting_since_;
  }

 private:
  using Stream = boost::beast::basic_stream<boost::asio::generic::stream_protocol>;
  struct Call;

  void read_request();
  void on_header(boost::beast::error_code ec);
  void on_read(boost::beast::error_code ec);
  void call_handler(Request request, bool keep_alive);
  void on_result(const std::shared_ptr<Call>& call, Response response);
  void on_deadline(const std::shared_ptr<Call>& call);
  void reply_and_close(unsigned status, const std::string& message);
  void write(Response response, bool keep_alive);

  Stream stream_;
  SessionShared& shared_;
  // Kept across requests, as it may hold the next one already. Its cap keeps what one
  // connection makes us hold bounded whatever it sends.
  boost::beast::flat_buffer buffer_;
  // A parser serves one message only, so each request gets a fresh one.
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::asio::steady_timer deadline_;  // of the call in progress
  WireResponse response_;               // must outlive async_write
  std::optional<std::chrono::steady_clock::time_point> waiting_since_;
};

}  // namespace wgnet::http
