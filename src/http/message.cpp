// The default error reply: plain text, for a server whose protocol sets none of its own.
#include "http/message.h"

namespace wgnet::http {

Response plain_error(unsigned status, std::string_view message) {
  Response response;
  response.status = status;
  response.content_type = "text/plain; charset=utf-8";
  response.body = std::string(message) + "\n";
  return response;
}

}  // namespace wgnet::http
