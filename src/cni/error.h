// A CNI error (spec 1.1.0, section 5 "Error"): a well-known code, a short message and details,
// printed by the plugin as JSON on stdout before it exits non-zero.
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>

namespace wgnet::cni {

// The spec's well-known codes (0-99); 100+ are this plugin's own.
enum ErrorCode : int {
  kIncompatibleVersion = 1,
  kUnsupportedField = 2,
  kUnknownContainer = 3,
  kInvalidEnvironment = 4,
  kIoFailure = 5,
  kDecodeFailure = 6,
  kInvalidConfig = 7,
  kTryAgainLater = 11,
  kNotAvailable = 50,         // STATUS: cannot serve ADD
  kNotAvailableLimited = 51,  // STATUS: and existing containers may have limited connectivity
  // wgnet's own
  kDaemonUnavailable = 100,  // wgnetd does not answer on its admin socket
  kDaemonRefused = 101,      // wgnetd answered with an error
  kCheckFailed = 102,        // CHECK: the interface, its key or its peer is not what ADD made
};

class Error : public std::runtime_error {
 public:
  Error(int code, std::string msg, std::string details = {})
      : std::runtime_error(msg + (details.empty() ? "" : ": " + details)),
        code_(code),
        msg_(std::move(msg)),
        details_(std::move(details)) {}
  int code() const { return code_; }
  const std::string& msg() const { return msg_; }
  const std::string& details() const { return details_; }

 private:
  int code_;
  std::string msg_;
  std::string details_;
};

// The error as the spec's JSON object (one line), in `version` (the request's, or the newest this
// plugin speaks when the request's is unknown).
std::string encode_error(const Error& error, std::string_view version);

}  // namespace wgnet::cni
