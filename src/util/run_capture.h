// Runs a short-lived program to completion, feeding it stdin and capturing its stdout: a CNI
// plugin's delegated IPAM plugin (`host-local`). Bounded in time and in output; its stderr is ours.
#pragma once
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace wgnet::process {

struct RunLimits {
  std::chrono::milliseconds timeout{30000};  // then SIGKILL
  size_t max_stdout = 1 << 20;               // more: killed, reported
};

struct RunResult {
  int status = -1;  // wait status
  std::string out;  // its stdout
  bool timed_out = false;
  bool output_too_large = false;
};

// Runs `path` (absolute; not searched) with `argv` and exactly the environment `env`, stdin =
// `input`, stdout captured, stderr shared with ours, no other descriptor of ours, every signal at
// its default and none blocked. Throws SystemError when it cannot be started (the message names
// `path` and the reason) or its end cannot be waited for.
RunResult run_capture(const std::string& path, const std::vector<std::string>& argv,
                      const std::vector<std::string>& env, const std::string& input,
                      const RunLimits& limits = {});

}  // namespace wgnet::process
