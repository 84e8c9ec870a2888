// The network configuration a CNI plugin reads on stdin (spec 1.1.0 sections 1 and 3): the
// protocol's own keys checked (version, name, type, ipam, prevResult, runtimeConfig, GC's valid
// attachments); the plugin's own keys are left in `raw` for the plugin's option parser, and `raw`
// is what a delegated (IPAM) plugin gets, unchanged.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/invocation.h"
#include "cni/result.h"

namespace wgnet::cni {

// A configuration larger than this is refused (a runtime's are a few KiB).
inline constexpr size_t kMaxConfigBytes = 1 << 20;
inline constexpr size_t kMaxValidAttachments = 65536;

struct Attachment {
  std::string container_id;
  std::string ifname;
  bool operator==(const Attachment&) const = default;
};

struct NetConf {
  std::string cni_version;
  std::string name;
  std::string type;
  std::string ipam_type;  // empty: no "ipam" section
  std::optional<Result> prev_result;
  nlohmann::json runtime_config = nlohmann::json::object();
  std::vector<Attachment> valid_attachments;  // GC (absent: none)
  nlohmann::json raw;                         // the whole object as read
};

// The configuration for `command`. Throws Error: kDecodeFailure (not JSON, a field of the wrong
// type; the input itself is never quoted), kIncompatibleVersion (a cniVersion not spoken here),
// kInvalidConfig (a missing or malformed field, too large).
NetConf parse_netconf(std::string_view text, Command command);

}  // namespace wgnet::cni
