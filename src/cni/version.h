// The CNI spec versions this plugin speaks (0.4.0, 1.0.0, 1.1.0) and the VERSION command's answer.
#pragma once
#include <span>
#include <string>
#include <string_view>

namespace wgnet::cni {

inline constexpr std::string_view kNewestVersion = "1.1.0";

std::span<const std::string_view> supported_versions();
bool is_supported(std::string_view version);
// True for versions whose result lists "version" in each ips entry (before 1.0.0).
bool ips_carry_version(std::string_view version);
// True for versions whose result may give an interface's MTU (1.1.0).
bool interfaces_carry_mtu(std::string_view version);

// {"cniVersion": <version asked, or the newest when none>, "supportedVersions": [...]}
std::string version_reply(std::string_view asked);

}  // namespace wgnet::cni
