// Building {"Err":...} replies.
#include "http/message.h"

#include <nlohmann/json.hpp>

namespace wgnet::http {

Response error_response(unsigned status, std::string_view message) {
  // `replace` rather than throwing: an exception text is not guaranteed to be valid UTF-8,
  // and failing to report an error must never be the outcome.
  const auto body = nlohmann::json{{"Err", message}}.dump(-1, ' ', false,
                                                          nlohmann::json::error_handler_t::replace);
  Response response;
  response.status = status;
  response.body = body;
  return response;
}

}  // namespace wgnet::http
