#include "cni/error.h"

#include <nlohmann/json.hpp>

#include "cni/version.h"

namespace wgnet::cni {

std::string encode_error(const Error& error, std::string_view version) {
  nlohmann::json j{
      {"cniVersion", is_supported(version) ? std::string(version) : std::string(kNewestVersion)},
      {"code", error.code()},
      {"msg", error.msg()}};
  if (!error.details().empty()) j["details"] = error.details();
  // Invalid UTF-8 (from a path, say) is replaced rather than thrown on.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace wgnet::cni
