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
// An exception becomes a 500 with an {"Err":...} body.
using Handler = std::function<Response(const Request&)>;

// A reply in the form Docker shows to the user: {"Err":"<message>"} with the given status.
Response error_response(unsigned status, std::string_view message);

}  // namespace wgnet::http
