// CNI_* parameters: what each command requires, and each malformed variable named in a code-4
// error.
#include <gtest/gtest.h>

#include <map>

#include "cni/error.h"
#include "cni/invocation.h"

namespace wgnet::cni {
namespace {

using Env = std::map<std::string, std::string>;

Invocation parse(const Env& env) {
  return parse_invocation([&](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
}

// The error's code and the variable it names.
void expect_invalid(const Env& env, const std::string& variable) {
  try {
    parse(env);
    ADD_FAILURE() << "accepted; expected an error naming " << variable;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), kInvalidEnvironment);
    EXPECT_NE(e.msg().find(variable), std::string::npos) << e.msg();
  }
}

const Env kAdd{{"CNI_COMMAND", "ADD"},
               {"CNI_CONTAINERID", "3f2a9c_x.y-z"},
               {"CNI_NETNS", "/run/netns/cni-1234"},
               {"CNI_IFNAME", "eth0"},
               {"CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=web-0"},
               {"CNI_PATH", "/usr/lib/cni::/opt/cni/bin"}};

TEST(CniInvocation, AddWithEverything) {
  const Invocation inv = parse(kAdd);
  EXPECT_EQ(inv.command, Command::kAdd);
  EXPECT_EQ(inv.container_id, "3f2a9c_x.y-z");
  EXPECT_EQ(inv.netns, "/run/netns/cni-1234");
  EXPECT_EQ(inv.ifname, "eth0");
  ASSERT_EQ(inv.args.size(), 2u);
  EXPECT_EQ(inv.args[1], (std::pair<std::string, std::string>{"K8S_POD_NAME", "web-0"}));
  EXPECT_EQ(inv.path, (std::vector<std::string>{"/usr/lib/cni", "/opt/cni/bin"}));
}

TEST(CniInvocation, EachCommandRequiresItsVariables) {
  for (const char* var : {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"}) {
    Env env = kAdd;
    env.erase(var);
    expect_invalid(env, var);
  }
  Env del = kAdd;
  del["CNI_COMMAND"] = "DEL";
  del.erase("CNI_NETNS");  // DEL without the namespace: it may be gone already
  EXPECT_EQ(parse(del).netns, "");
  EXPECT_EQ(parse({{"CNI_COMMAND", "VERSION"}}).command, Command::kVersion);
  EXPECT_EQ(parse({{"CNI_COMMAND", "STATUS"}}).command, Command::kStatus);
  expect_invalid({{"CNI_COMMAND", "GC"}}, "CNI_PATH");
  EXPECT_EQ(parse({{"CNI_COMMAND", "GC"}, {"CNI_PATH", "/usr/lib/cni"}}).path.size(), 1u);
  expect_invalid({}, "CNI_COMMAND");
  expect_invalid({{"CNI_COMMAND", "add"}}, "CNI_COMMAND");
}

TEST(CniInvocation, MalformedValuesAreNamed) {
  const std::vector<std::pair<std::string, std::string>> bad{
      {"CNI_CONTAINERID", "-starts-with-dash"},
      {"CNI_CONTAINERID", "has space"},
      {"CNI_CONTAINERID", std::string(300, 'a')},
      {"CNI_IFNAME", "sixteen-chars-xx"},
      {"CNI_IFNAME", "a/b"},
      {"CNI_IFNAME", ".."},
      {"CNI_NETNS", "relative/path"},
      {"CNI_ARGS", "novalue"},
      {"CNI_ARGS", "=x"},
      {"CNI_ARGS", "K-EY=v"},
      {"CNI_ARGS", "K=v\n"},
      {"CNI_ARGS", std::string(5000, 'a')},
      {"CNI_PATH", "relative"}};
  for (const auto& [var, value] : bad) {
    Env env = kAdd;
    env[var] = value;
    SCOPED_TRACE(var + "=" + value.substr(0, 40));
    expect_invalid(env, var);
  }
}

}  // namespace
}  // namespace wgnet::cni
