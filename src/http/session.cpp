// One client connection: the read → handle → write loop, the handler's deadline, and the replies
// for refused and broken requests.
#include "http/session.h"

#include <boost/asio/post.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>

#include "util/log.h"

namespace wgnet::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

namespace {

// Every reply carries a body and its Content-Length, which rules out 1xx, 204 and 304 (Beast
// refuses to serialize those with a body, and would throw on the io thread).
bool carries_body(unsigned status) {
  return status >= 200 && status <= 599 && status != 204 && status != 304;
}

// Never lets an exception out: the handler runs on a pool thread, where one would terminate the
// process, and Docker shows the Err text to the user, which beats a dropped connection.
Response run_handler(const Handler& handler, const ErrorReply& error_reply,
                     const Request& request) noexcept {
  try {
    Response response = handler(request);
    if (!carries_body(response.status))
      return error_reply(
          500, "internal error: handler returned HTTP status " + std::to_string(response.status));
    return response;
  } catch (const std::exception& e) {
    log::error("handler for " + request.target + " failed: " + e.what());
    return error_reply(500, std::string("internal error: ") + e.what());
  } catch (...) {
    log::error("handler for " + request.target + " failed with a non-standard exception");
    return error_reply(500, "internal error: unknown exception");
  }
}

bool is_http_syntax_error(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

// Any coding but identity. Beast would read a chunked body, but the chunk extensions and
// trailers it keeps escape both the body and the header limit; and any other coding leaves a
// request's length unknown.
bool has_transfer_coding(const bhttp::request_parser<bhttp::string_body>& parser) {
  if (parser.chunked()) return true;
  const auto [first, last] = parser.get().equal_range(bhttp::field::transfer_encoding);
  for (auto field = first; field != last; ++field)
    for (const auto coding : bhttp::token_list(field->value()))
      if (!beast::iequals(coding, "identity")) return true;
  return false;
}

// "60 s", "0.25 s": how a deadline reads in a message.
std::string seconds_text(Clock::duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  std::string text = std::to_string(ms / 1000);
  if (const auto fraction = ms % 1000; fraction != 0) {
    std::string digits = std::to_string(1000 + fraction).substr(1);
    text += "." + digits.substr(0, digits.find_last_not_of('0') + 1);
  }
  return text + " s";
}

}  // namespace

WireResponse to_wire(Response response, bool keep_alive) {
  WireResponse wire;
  wire.version(11);
  wire.result(response.status);
  wire.set(bhttp::field::content_type, response.content_type);
  wire.body() = std::move(response.body);
  wire.keep_alive(keep_alive);
  wire.prepare_payload();  // Content-Length, even for an empty body
  return wire;
}

SessionShared::SessionShared(Handler handler_fn, const ServerOptions& server_options)
    : handler(std::move(handler_fn)),
      options(server_options),
      cheap_lane(options.cheap_threads, options.max_queued_calls),
      slow_lane(options.handler_threads, options.max_queued_calls),
      busy_warnings(std::chrono::seconds(10)) {}

WorkerPool& SessionShared::lane_for(std::string_view target) {
  return options.is_cheap && options.is_cheap(target) ? cheap_lane : slow_lane;
}

// One request handed to a lane. The job and the deadline both hold it; whichever reaches the io
// thread first answers, and the other finds `answered` set.
struct Session::Call {
  Request request;
  bool keep_alive = false;
  Clock::time_point started = Clock::now();
  WorkerPool* lane = nullptr;
  std::shared_ptr<WorkerPool::Ticket> ticket;
  bool answered = false;  // io thread only
};

Session::Session(Socket socket, SessionShared& shared)
    : stream_(std::move(socket)),
      shared_(shared),
      buffer_(2 * shared.options.header_limit),
      deadline_(stream_.get_executor()) {}

void Session::close() {
  beast::error_code ignored;
  deadline_.cancel();
  stream_.socket().shutdown(Socket::shutdown_both, ignored);
  stream_.close();
}

void Session::read_request() {
  parser_.emplace();
  parser_->body_limit(shared_.options.body_limit);
  parser_->header_limit(static_cast<std::uint32_t>(shared_.options.header_limit));
  waiting_since_ = Clock::now();
  // Covers both a keep-alive connection idling between calls and a peer stalling mid-request.
  stream_.expires_after(shared_.options.idle_timeout);
  // The header first, so a body is refused on what the header says before any of it is read.
  bhttp::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
}

void Session::on_header(beast::error_code ec) {
  if (ec) return on_read(ec);
  waiting_since_.reset();  // a request is in progress from here to its reply
  if (has_transfer_coding(*parser_))
    return reply_and_close(
        411, "Transfer-Encoding is not supported: send the request body with a Content-Length");
  bhttp::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

void Session::on_read(beast::error_code ec) {
  if (ec == bhttp::error::body_limit)
    return reply_and_close(413, "request body exceeds the limit of " +
                                    std::to_string(shared_.options.body_limit) + " bytes");
  // A line longer than the read buffer overflows it before the parser can call it too long.
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow)
    return reply_and_close(431, "request header exceeds the limit of " +
                                    std::to_string(shared_.options.header_limit) + " bytes");
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
  // The idle timeout is for idle peers, not for our own work: the deadline covers that.
  stream_.expires_never();
  auto call = std::make_shared<Call>();
  call->request = std::move(request);
  call->keep_alive = keep_alive;
  call->lane = &shared_.lane_for(call->request.target);
  // On a lane, not the io thread, so a slow handler stalls only its own connection.
  call->ticket = call->lane->submit([self = shared_from_this(), call] {
    Response response = run_handler(self->shared_.handler, self->shared_.options.error_reply, call->request);
    asio::post(self->stream_.get_executor(),
               [self, call, response = std::move(response)]() mutable {
                 self->on_result(call, std::move(response));
               });
  });
  if (!call->ticket) {
    const auto limit = std::to_string(shared_.options.max_queued_calls);
    if (const auto refused = shared_.busy_warnings.note())
      log::warn("refused " + std::to_string(refused) + " call(s) with HTTP 503: " + limit +
                " already waiting for a handler thread");
    return write(shared_.options.error_reply(503,
                                "server busy: too many calls are waiting for a handler "
                                "thread (the limit is " +
                                    limit + "); try again later"),
                 keep_alive);
  }
  deadline_.expires_after(shared_.options.handler_deadline);
  deadline_.async_wait([self = shared_from_this(), call](beast::error_code ec) {
    if (!ec) self->on_deadline(call);
  });
}

void Session::on_result(const std::shared_ptr<Call>& call, Response response) {
  if (call->answered) {
    log::warn(call->request.target + " finished after " +
              seconds_text(Clock::now() - call->started) +
              ", past its deadline; its result (HTTP " + std::to_string(response.status) +
              ") was discarded");
    return;
  }
  call->answered = true;
  deadline_.cancel();
  if (!is_open()) return;  // stopped meanwhile
  write(std::move(response), call->keep_alive);
}

void Session::on_deadline(const std::shared_ptr<Call>& call) {
  if (call->answered || !is_open()) return;
  const auto fate = call->lane->abandon(call->ticket);
  // Its result is already on the way here: better late than an error.
  if (fate == WorkerPool::Fate::kFinished) return;
  call->answered = true;
  std::string message = call->request.target + " did not finish within " +
                        seconds_text(shared_.options.handler_deadline);
  if (fate == WorkerPool::Fate::kDropped)
    message += ": it was still waiting for a handler thread and was not run (server overloaded)";
  else
    message += "; it may still complete, but its result will be discarded";
  log::warn(message);
  write(shared_.options.error_reply(504, message), call->keep_alive);
}

void Session::reply_and_close(unsigned status, const std::string& message) {
  log::warn("rejected a request (HTTP " + std::to_string(status) + "): " + message);
  write(shared_.options.error_reply(status, message), false);
}

void Session::write(Response response, bool keep_alive) {
  response_ = to_wire(std::move(response), keep_alive);
  stream_.expires_after(shared_.options.idle_timeout);
  bhttp::async_write(stream_, response_,
                     [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                       if (ec || !keep_alive) return self->close();
                       self->read_request();
                     });
}

}  // namespace wgnet::http
