// The IPAM plugin wgnet-cni delegates addresses to (spec section 4): found in CNI_PATH, run with
// the environment and configuration wgnet-cni got, its result or error passed back. Debian's
// host-local and static (1.1.1) refuse cniVersion 1.1.0, so a configuration in a version the
// IPAM does not list is sent to it in the newest version both speak (docs/CNI-PLAN.md §4.3).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "cni/invocation.h"
#include "cni/result.h"
#include "util/run_capture.h"

namespace wgnet::cni {

// How a delegated plugin is run: run_capture, or a fake in unit tests.
class PluginRunner {
 public:
  virtual ~PluginRunner() = default;
  virtual process::RunResult run(const std::string& path, const std::vector<std::string>& env,
                                 const std::string& input) = 0;
};

class ExecRunner final : public PluginRunner {
 public:
  process::RunResult run(const std::string& path, const std::vector<std::string>& env,
                         const std::string& input) override;
};

// The first regular executable file named `type` in `dirs`. Throws Error kInvalidConfig naming
// the type and the directories searched.
std::string find_plugin(std::string_view type, const std::vector<std::string>& dirs);

class Ipam {
 public:
  // `config`: the whole network configuration as received; `env`: wgnet-cni's own environment
  // ("K=V", the CNI_* variables among them), given to the IPAM as it is but for CNI_COMMAND.
  Ipam(std::string path, nlohmann::json config, std::vector<std::string> env, PluginRunner& runner);

  // ADD: the addresses (and routes, DNS) it allocated, decoded in the version spoken with it (the
  // caller writes its own result in the configuration's).
  Result add();
  // DEL and CHECK: errors thrown as the IPAM's own CNI error.
  void del();
  void check();
  const std::string& path() const { return path_; }

 private:
  // The version to speak to it: the configuration's when it lists it, else the newest both speak.
  std::string negotiate();
  std::string call(Command command, const std::string& version);

  std::string path_;
  nlohmann::json config_;
  std::vector<std::string> env_;
  PluginRunner& runner_;
};

}  // namespace wgnet::cni
