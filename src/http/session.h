// One client connection: reads requests one after another (keep-alive), runs each through the
// handler on the worker pool and writes the reply. Internal to the HTTP layer.
#pragma once
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>

#include "http/message.h"

namespace wgnet::http {

struct SessionLimits {
  std::size_t body_limit;
  std::chrono::steady_clock::duration idle_timeout;
};

// Lives as long as an operation on it is pending (shared_from_this in every completion). All
// members except the handler call are touched only from the io_context's single thread.
class Session : public std::enable_shared_from_this<Session> {
 public:
  using Socket = boost::asio::local::stream_protocol::socket;

  // `handler` and `workers` must outlive every operation of the session.
  Session(Socket socket, const Handler& handler, boost::asio::thread_pool& workers,
          SessionLimits limits);

  void start() { read_request(); }
  // Drops the connection at once, whatever is in progress. io_context thread only.
  void close();

 private:
  using Stream = boost::beast::basic_stream<boost::asio::local::stream_protocol>;
  using WireResponse = boost::beast::http::response<boost::beast::http::string_body>;

  void read_request();
  void on_read(boost::beast::error_code ec);
  void call_handler(Request request, bool keep_alive);
  void reply_and_close(unsigned status, const std::string& message);
  void write(Response response, bool keep_alive);

  Stream stream_;
  const Handler& handler_;
  boost::asio::thread_pool& workers_;
  const SessionLimits limits_;
  boost::beast::flat_buffer buffer_;  // kept across requests: it may hold the next one already
  // A parser serves one message only, so each request gets a fresh one.
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  WireResponse response_;  // must outlive async_write
};

}  // namespace wgnet::http
