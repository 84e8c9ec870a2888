// One client connection: the read → handle → write loop, and the replies for broken requests.
#include "http/session.h"

#include <boost/asio/post.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <exception>
#include <string>
#include <utility>

#include "util/log.h"

namespace wgnet::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

// Every reply carries a body and its Content-Length, which rules out 1xx, 204 and 304 (Beast
// refuses to serialize those with a body, and would throw on the io thread).
bool carries_body(unsigned status) {
  return status >= 200 && status <= 599 && status != 204 && status != 304;
}

// Never lets an exception out: the handler runs on a pool thread, where one would terminate the
// process, and Docker shows the Err text to the user, which beats a dropped connection.
Response invoke(const Handler& handler, const Request& request) noexcept {
  try {
    Response response = handler(request);
    if (!carries_body(response.status))
      return error_response(
          500, "internal error: handler returned HTTP status " + std::to_string(response.status));
    return response;
  } catch (const std::exception& e) {
    log::error("handler for " + request.target + " failed: " + e.what());
    return error_response(500, std::string("internal error: ") + e.what());
  } catch (...) {
    log::error("handler for " + request.target + " failed with a non-standard exception");
    return error_response(500, "internal error: unknown exception");
  }
}

bool is_http_syntax_error(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

}  // namespace

Session::Session(Socket socket, const Handler& handler, asio::thread_pool& workers,
                 SessionLimits limits)
    : stream_(std::move(socket)), handler_(handler), workers_(workers), limits_(limits) {}

void Session::close() {
  beast::error_code ignored;
  stream_.socket().shutdown(Socket::shutdown_both, ignored);
  stream_.close();
}

void Session::read_request() {
  parser_.emplace();
  parser_->body_limit(limits_.body_limit);
  // Covers both a keep-alive connection idling between calls and a peer stalling mid-request.
  stream_.expires_after(limits_.idle_timeout);
  bhttp::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

void Session::on_read(beast::error_code ec) {
  if (ec == bhttp::error::body_limit)
    return reply_and_close(
        413, "request body exceeds the limit of " + std::to_string(limits_.body_limit) + " bytes");
  if (ec == bhttp::error::header_limit)
    return reply_and_close(431, "request header exceeds the limit");
  // The peer closed (between or within messages): nobody is left to read a reply.
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) return close();
  if (is_http_syntax_error(ec))
    return reply_and_close(400, "malformed HTTP request: " + ec.message());
  if (ec) return close();  // timeout, reset, or our own shutdown

  auto message = parser_->release();
  Request request{std::string(message.method_string()), std::string(message.target()),
                  std::move(message.body())};
  call_handler(std::move(request), message.keep_alive());
}

void Session::call_handler(Request request, bool keep_alive) {
  // The idle timeout is for idle peers, not for our own work: a slow handler must not cost the
  // connection its reply.
  stream_.expires_never();
  // On the pool, not the io thread, so a slow handler stalls only its own connection.
  asio::post(workers_, [self = shared_from_this(), request = std::move(request), keep_alive] {
    Response response = invoke(self->handler_, request);
    asio::post(self->stream_.get_executor(),
               [self, response = std::move(response), keep_alive]() mutable {
                 self->write(std::move(response), keep_alive);
               });
  });
}

void Session::reply_and_close(unsigned status, const std::string& message) {
  log::warn("rejected a request (HTTP " + std::to_string(status) + "): " + message);
  write(error_response(status, message), false);
}

void Session::write(Response response, bool keep_alive) {
  response_ = {};
  response_.version(11);
  response_.result(response.status);
  response_.set(bhttp::field::content_type, response.content_type);
  response_.body() = std::move(response.body);
  response_.keep_alive(keep_alive);
  response_.prepare_payload();  // Content-Length, even for an empty body
  stream_.expires_after(limits_.idle_timeout);
  bhttp::async_write(stream_, response_,
                     [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                       if (ec || !keep_alive) return self->close();
                       self->read_request();
                     });
}

}  // namespace wgnet::http
