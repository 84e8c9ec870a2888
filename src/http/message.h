// The request and response the HTTP layer hands to and takes from its one handler; they carry
// no HTTP machinery, so the driver can be tested without sockets.
#pragma once
#include <functional>
#include <string>
#include <string_view>

namespace wgnet::http {

// Docker's plugin protocol needs only these: every call is `POST /<Method>` with a JSON body.
struct Request {
  std::string method;  // "POST"
  std::string target;  // "/NetworkDriver.Join"
  std::string body;    // may be empty (Plugin.Activate, GetCapabilities)
};

struct Response {
  unsigned status = 200;
  std::string content_type = "application/vnd.docker.plugins.v1+json";
  std::string body;
};

// Called from a worker thread, possibly for several requests at once; it must be thread-safe.
// An exception becomes a 500 error reply.
using Handler = std::function<Response(const Request&)>;

// How the server words its own error replies (a request it refuses, a handler that threw or
// missed its deadline). The protocol on top decides the shape; thread-safe, must not throw.
using ErrorReply = std::function<Response(unsigned status, std::string_view message)>;

// The default ErrorReply: the message as plain text.
Response plain_error(unsigned status, std::string_view message);

}  // namespace wgnet::http
