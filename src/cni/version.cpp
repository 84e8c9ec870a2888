#include "cni/version.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

namespace wgnet::cni {
namespace {
constexpr std::array<std::string_view, 3> kSupported{"0.4.0", "1.0.0", "1.1.0"};
}

std::span<const std::string_view> supported_versions() { return kSupported; }

bool is_supported(std::string_view version) {
  return std::find(kSupported.begin(), kSupported.end(), version) != kSupported.end();
}

bool ips_carry_version(std::string_view version) { return version == "0.4.0"; }

bool interfaces_carry_mtu(std::string_view version) { return version == "1.1.0"; }

std::string version_reply(std::string_view asked) {
  nlohmann::json versions = nlohmann::json::array();
  for (auto v : kSupported) versions.push_back(std::string(v));
  const std::string version = asked.empty() ? std::string(kNewestVersion) : std::string(asked);
  nlohmann::json reply{{"cniVersion", version}, {"supportedVersions", versions}};
  return reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace wgnet::cni
