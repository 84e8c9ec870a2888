// A CNI plugin's parameters (spec 1.1.0, section 2): the CNI_* environment variables, checked
// for the command they come with. Pure: the environment is read through a lookup function.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wgnet::cni {

enum class Command { kAdd, kDel, kCheck, kStatus, kVersion, kGc };

std::string_view command_name(Command command);

struct Invocation {
  Command command = Command::kVersion;
  std::string container_id;  // ADD, DEL, CHECK
  std::string netns;         // ADD, CHECK; DEL when the runtime still has it
  std::string ifname;        // ADD, DEL, CHECK
  std::vector<std::pair<std::string, std::string>> args;  // CNI_ARGS, in order
  std::vector<std::string> path;                          // CNI_PATH, empty entries dropped
};

// Limits on what the environment may hold (a runtime's values are far smaller).
inline constexpr size_t kMaxContainerId = 256;
inline constexpr size_t kMaxPath = 4096;
inline constexpr size_t kMaxArgs = 4096;

using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The invocation, or Error kInvalidEnvironment naming the variable that is missing or malformed.
Invocation parse_invocation(const EnvLookup& env);

// The spec's identifier rule (container IDs, network names): an alphanumeric character, then
// alphanumerics, '_', '.' or '-'.
bool is_identifier(std::string_view text);

}  // namespace wgnet::cni
