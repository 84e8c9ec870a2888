#include "cni/plugin/ipam.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cni/error.h"
#include "cni/version.h"

namespace wgnet::cni {
namespace {

using nlohmann::json;

std::string plugin_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// The IPAM's failure as a CNI error: its own code and message when it printed one, its details
// prefixed with which plugin said so.
[[noreturn]] void fail(const std::string& path, const process::RunResult& r) {
  const std::string who = "ipam " + plugin_name(path);
  if (r.timed_out) throw Error(kTryAgainLater, who + " did not answer in time");
  if (r.output_too_large) throw Error(kIoFailure, who + " printed more than 1 MiB");
  json e;
  try {
    e = json::parse(r.out);
  } catch (const json::exception&) {
  }
  const auto text = [&](const char* key) {
    auto it = e.is_object() ? e.find(key) : e.end();
    return e.is_object() && it != e.end() && it->is_string() ? it->get<std::string>()
                                                             : std::string();
  };
  if (e.is_object() && e.contains("code") && e["code"].is_number_unsigned() &&
      e["code"].get<uint64_t>() < 10000 && !text("msg").empty()) {
    const std::string details = text("details");
    throw Error(static_cast<int>(e["code"].get<uint64_t>()), text("msg"),
                who + (details.empty() ? "" : ": " + details));
  }
  const int code = WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1;
  throw Error(kIoFailure, who + " failed",
              code >= 0 ? "exit status " + std::to_string(code) : "killed by a signal");
}

}  // namespace

process::RunResult ExecRunner::run(const std::string& path, const std::vector<std::string>& env,
                                   const std::string& input) {
  return process::run_capture(path, {path}, env, input);
}

std::string find_plugin(std::string_view type, const std::vector<std::string>& dirs) {
  std::string searched;
  for (const auto& dir : dirs) {
    const std::string path = dir + "/" + std::string(type);
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0)
      return path;
    searched += (searched.empty() ? "" : ":") + dir;
  }
  throw Error(kInvalidConfig, "ipam plugin not found",
              "no executable '" + std::string(type) + "' in CNI_PATH (" + searched + ")");
}

Ipam::Ipam(std::string path, json config, std::vector<std::string> env, PluginRunner& runner)
    : path_(std::move(path)), config_(std::move(config)), env_(std::move(env)), runner_(runner) {}

std::string Ipam::call(Command command, const std::string& version) {
  std::vector<std::string> env;
  for (const auto& e : env_)
    if (e.rfind("CNI_COMMAND=", 0) != 0) env.push_back(e);
  env.push_back("CNI_COMMAND=" + std::string(command_name(command)));
  json input = config_;
  input["cniVersion"] = version;
  const process::RunResult r =
      runner_.run(path_, env, input.dump(-1, ' ', false, json::error_handler_t::replace));
  if (r.timed_out || r.output_too_large || !WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
    fail(path_, r);
  return r.out;
}

std::string Ipam::negotiate() {
  const std::string wanted = config_.value("cniVersion", std::string(kNewestVersion));
  json reply;
  try {
    reply = json::parse(call(Command::kVersion, wanted));
  } catch (const json::exception&) {
    throw Error(kDecodeFailure, "ipam " + plugin_name(path_) + " answered VERSION with no JSON");
  }
  const auto listed = reply.find("supportedVersions");
  if (listed == reply.end() || !listed->is_array())
    throw Error(kDecodeFailure,
                "ipam " + plugin_name(path_) + " answered VERSION without supportedVersions");
  auto speaks = [&](std::string_view v) {
    for (const auto& s : *listed)
      if (s.is_string() && s.get_ref<const std::string&>() == v) return true;
    return false;
  };
  if (speaks(wanted)) return wanted;
  // The newest version both speak: results have the same shape from 1.0.0 on.
  const auto ours = supported_versions();
  for (auto it = ours.rbegin(); it != ours.rend(); ++it)
    if (speaks(*it)) return std::string(*it);
  throw Error(kIncompatibleVersion,
              "ipam " + plugin_name(path_) + " speaks no version wgnet-cni does",
              "wgnet-cni speaks 0.4.0, 1.0.0 and 1.1.0");
}

Result Ipam::add() {
  const std::string version = negotiate();
  const std::string out = call(Command::kAdd, version);
  json j;
  try {
    j = json::parse(out);
  } catch (const json::exception&) {
    throw Error(kDecodeFailure,
                "ipam " + plugin_name(path_) + " printed a result that is not JSON");
  }
  return decode_result(j, version);
}

void Ipam::del() { call(Command::kDel, negotiate()); }

void Ipam::check() { call(Command::kCheck, negotiate()); }

}  // namespace wgnet::cni
