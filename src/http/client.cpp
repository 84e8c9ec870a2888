// Beast's stream with a deadline around each step, run to completion on a private io_context: a
// server that stops answering turns into an error after the timeout instead of a hung command.
// (Asio's blocking calls retry on EAGAIN, so a socket receive timeout alone would not do.)
#include "http/client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "util/error.h"

namespace wgnet::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Protocol = asio::local::stream_protocol;

Response unix_request(const std::string& socket_path, std::string_view method,
                      std::string_view target, std::string_view body,
                      const ClientOptions& options) {
  asio::io_context io;
  beast::basic_stream<Protocol> stream(io);
  bhttp::request<bhttp::string_body> request;
  request.method_string(std::string(method));
  request.target(std::string(target));
  request.version(11);
  request.set(bhttp::field::host, "localhost");
  request.set(bhttp::field::connection, "close");
  request.body() = std::string(body);
  request.prepare_payload();
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(options.body_limit);

  beast::error_code result;
  const char* step = "connect to";
  auto fail_or = [&](const char* next, auto then) {
    return [&, next, then](beast::error_code ec, auto&&...) {
      if (ec) {
        result = ec;
        return;
      }
      step = next;
      stream.expires_after(options.timeout);
      then();
    };
  };
  stream.expires_after(options.timeout);
  stream.async_connect(Protocol::endpoint(socket_path), fail_or("send a request to", [&] {
                         bhttp::async_write(stream, request, fail_or("read the reply from", [&] {
                                              bhttp::async_read(stream, buffer, parser,
                                                                [&](beast::error_code ec,
                                                                    std::size_t) { result = ec; });
                                            }));
                       }));
  io.run();
  if (result == beast::error::timeout)
    throw SystemError(std::string("cannot ") + step + " " + socket_path + ": no answer within " +
                      std::to_string(options.timeout.count()) + " ms");
  if (result)
    throw SystemError(std::string("cannot ") + step + " " + socket_path + ": " + result.message());
  auto& reply = parser.get();
  Response out;
  out.status = reply.result_int();
  out.content_type = std::string(reply[bhttp::field::content_type]);
  out.body = std::move(reply.body());
  return out;
}

}  // namespace wgnet::http
