#include "cni/invocation.h"

#include <array>

#include "cni/error.h"
#include "util/error.h"
#include "util/ifname.h"

namespace wgnet::cni {
namespace {

constexpr std::array<std::pair<std::string_view, Command>, 6> kCommands{{
    {"ADD", Command::kAdd},
    {"DEL", Command::kDel},
    {"CHECK", Command::kCheck},
    {"STATUS", Command::kStatus},
    {"VERSION", Command::kVersion},
    {"GC", Command::kGc},
}};

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

[[noreturn]] void invalid(std::string_view variable, const std::string& why) {
  throw Error(kInvalidEnvironment, "invalid " + std::string(variable), why);
}

std::string required(const EnvLookup& env, std::string_view variable) {
  auto value = env(variable);
  if (!value || value->empty()) invalid(variable, std::string(variable) + " is not set");
  return *value;
}

std::vector<std::pair<std::string, std::string>> parse_args(std::string_view text) {
  if (text.size() > kMaxArgs)
    invalid("CNI_ARGS", "longer than " + std::to_string(kMaxArgs) + " bytes");
  std::vector<std::pair<std::string, std::string>> args;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(';', start), text.size());
    const std::string_view pair = text.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0)
      invalid("CNI_ARGS", "expected KEY=VALUE pairs separated by ';'");
    const std::string_view key = pair.substr(0, eq);
    for (char c : key)
      if (!is_alnum(c) && c != '_')
        invalid("CNI_ARGS", "a key holds a character other than A-Z a-z 0-9 _");
    for (char c : pair.substr(eq + 1))
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
        invalid("CNI_ARGS", "a value holds a control character");
    args.emplace_back(std::string(key), std::string(pair.substr(eq + 1)));
  }
  return args;
}

std::vector<std::string> parse_path(std::string_view text) {
  if (text.size() > kMaxPath)
    invalid("CNI_PATH", "longer than " + std::to_string(kMaxPath) + " bytes");
  std::vector<std::string> dirs;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(':', start), text.size());
    if (end > start) {
      std::string dir(text.substr(start, end - start));
      if (dir[0] != '/') invalid("CNI_PATH", "'" + dir + "' is not an absolute directory");
      dirs.push_back(std::move(dir));
    }
    start = end + 1;
  }
  return dirs;
}

}  // namespace

std::string_view command_name(Command command) {
  for (const auto& [name, c] : kCommands)
    if (c == command) return name;
  return "?";
}

bool is_identifier(std::string_view text) {
  if (text.empty() || !is_alnum(text[0])) return false;
  for (char c : text)
    if (!is_alnum(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

Invocation parse_invocation(const EnvLookup& env) {
  Invocation inv;
  const std::string command = required(env, "CNI_COMMAND");
  bool known = false;
  for (const auto& [name, c] : kCommands)
    if (name == command) {
      inv.command = c;
      known = true;
    }
  if (!known) invalid("CNI_COMMAND", "expected ADD, DEL, CHECK, STATUS, VERSION or GC");
  if (inv.command == Command::kVersion) return inv;

  const bool attachment = inv.command == Command::kAdd || inv.command == Command::kDel ||
                          inv.command == Command::kCheck;
  if (attachment) {
    inv.container_id = required(env, "CNI_CONTAINERID");
    if (inv.container_id.size() > kMaxContainerId || !is_identifier(inv.container_id))
      invalid("CNI_CONTAINERID",
              "expected a letter or digit, then letters, digits, '_', '.' or '-' (at most " +
                  std::to_string(kMaxContainerId) + ")");
    inv.ifname = required(env, "CNI_IFNAME");
    try {
      check_ifname(inv.ifname);
    } catch (const InputError& e) {
      invalid("CNI_IFNAME", e.what());
    }
    if (inv.command != Command::kDel)
      inv.netns = required(env, "CNI_NETNS");
    else
      inv.netns = env("CNI_NETNS").value_or("");
    if (!inv.netns.empty() && (inv.netns[0] != '/' || inv.netns.size() > kMaxPath))
      invalid("CNI_NETNS", "expected an absolute path to a network namespace");
    if (auto args = env("CNI_ARGS")) inv.args = parse_args(*args);
  }
  if (inv.command == Command::kGc)
    inv.path = parse_path(required(env, "CNI_PATH"));
  else if (auto path = env("CNI_PATH"))
    inv.path = parse_path(*path);
  return inv;
}

}  // namespace wgnet::cni
