#include "cni/netconf.h"

#include "cni/error.h"
#include "cni/version.h"
#include "util/error.h"
#include "util/ifname.h"

namespace wgnet::cni {
namespace {

using nlohmann::json;

[[noreturn]] void invalid(const std::string& field, const std::string& why) {
  throw Error(kInvalidConfig, "invalid network configuration", field + ": " + why);
}

std::string string_field(const json& j, const char* key, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) invalid(key, "missing");
    return {};
  }
  if (!it->is_string())
    throw Error(kDecodeFailure, "invalid network configuration",
                std::string(key) + ": expected a string");
  return it->get<std::string>();
}

// A plugin type names a binary in CNI_PATH: no directory part.
void check_type(const std::string& field, const std::string& type) {
  if (type.empty() || type.size() > 255 || type.find('/') != std::string::npos ||
      type.find('\\') != std::string::npos || type == "." || type == "..")
    invalid(field, "expected a plugin name (no '/')");
}

std::vector<Attachment> parse_attachments(const json& j) {
  auto it = j.find("cni.dev/valid-attachments");
  // Absent means none is valid: libcni's cnitool sends GC so, after a DEL of each attachment it
  // knows (docs/CNI-PLAN.md §1.2).
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_array()) invalid("cni.dev/valid-attachments", "expected an array");
  if (it->size() > kMaxValidAttachments)
    invalid("cni.dev/valid-attachments", "more than " + std::to_string(kMaxValidAttachments));
  std::vector<Attachment> out;
  for (const auto& e : *it) {
    if (!e.is_object()) invalid("cni.dev/valid-attachments", "expected objects");
    Attachment a{string_field(e, "containerID", true), string_field(e, "ifname", true)};
    bool ok = is_identifier(a.container_id) && a.container_id.size() <= kMaxContainerId;
    try {
      check_ifname(a.ifname);
    } catch (const InputError&) {
      ok = false;
    }
    if (!ok)
      invalid("cni.dev/valid-attachments", "an entry is not a container ID and interface name");
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

NetConf parse_netconf(std::string_view text, Command command) {
  if (text.size() > kMaxConfigBytes)
    invalid("configuration", "larger than " + std::to_string(kMaxConfigBytes) + " bytes");
  NetConf conf;
  try {
    conf.raw = json::parse(text);
  } catch (const json::parse_error& e) {
    // The parser's message quotes the input, which may hold a key: give the position only.
    throw Error(kDecodeFailure, "network configuration is not JSON",
                "syntax error at byte " + std::to_string(e.byte));
  } catch (const json::exception&) {
    throw Error(kDecodeFailure, "network configuration is not JSON", "a number out of range");
  }
  if (!conf.raw.is_object())
    throw Error(kDecodeFailure, "network configuration is not a JSON object");
  const json& j = conf.raw;

  conf.cni_version = string_field(j, "cniVersion", command != Command::kVersion);
  // VERSION answers whatever version it was asked in (the spec: it echoes cniVersion).
  if (command == Command::kVersion) return conf;
  if (!is_supported(conf.cni_version))
    throw Error(kIncompatibleVersion, "incompatible CNI version",
                "this plugin speaks 0.4.0, 1.0.0 and 1.1.0");
  if (command == Command::kVersion) return conf;
  conf.name = string_field(j, "name", true);
  if (!is_identifier(conf.name) || conf.name.size() > 255)
    invalid("name", "expected a letter or digit, then letters, digits, '_', '.' or '-'");
  conf.type = string_field(j, "type", true);
  check_type("type", conf.type);

  if (auto ipam = j.find("ipam"); ipam != j.end() && !ipam->is_null()) {
    if (!ipam->is_object()) invalid("ipam", "expected an object");
    if (!ipam->empty()) {
      conf.ipam_type = string_field(*ipam, "type", true);
      check_type("ipam.type", conf.ipam_type);
    }
  }
  if (auto rc = j.find("runtimeConfig"); rc != j.end() && !rc->is_null()) {
    if (!rc->is_object()) invalid("runtimeConfig", "expected an object");
    conf.runtime_config = *rc;
  }
  if (auto prev = j.find("prevResult"); prev != j.end() && !prev->is_null()) {
    try {
      conf.prev_result = decode_result(*prev, conf.cni_version);
    } catch (const Error&) {
      // DEL is best effort and must succeed without a usable prevResult (it never needs one).
      if (command != Command::kDel) throw;
    }
  }
  if (command == Command::kGc) conf.valid_attachments = parse_attachments(j);
  return conf;
}

}  // namespace wgnet::cni
