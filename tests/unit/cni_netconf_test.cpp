// CNI network configurations: the protocol's keys checked per command, the plugin's own keys kept,
// every refusal with the spec's code; VERSION's answer and error objects.
#include <gtest/gtest.h>

#include "cni/error.h"
#include "cni/netconf.h"
#include "cni/version.h"

namespace wgnet::cni {
namespace {

using nlohmann::json;

const char* kConf = R"({"cniVersion":"1.1.0","name":"wgnet-a","type":"wgnet-cni",
  "hub_endpoint":"198.18.0.1:51820","ipam":{"type":"host-local","subnet":"10.9.0.0/24"},
  "runtimeConfig":{"portMappings":[]}})";

int code_of(const std::string& text, Command command) {
  try {
    parse_netconf(text, command);
  } catch (const Error& e) {
    return e.code();
  }
  return 0;
}

TEST(CniNetconf, ProtocolKeysCheckedPluginKeysKept) {
  const NetConf c = parse_netconf(kConf, Command::kAdd);
  EXPECT_EQ(c.cni_version, "1.1.0");
  EXPECT_EQ(c.name, "wgnet-a");
  EXPECT_EQ(c.type, "wgnet-cni");
  EXPECT_EQ(c.ipam_type, "host-local");
  EXPECT_TRUE(c.runtime_config.contains("portMappings"));
  EXPECT_FALSE(c.prev_result);
  EXPECT_EQ(c.raw["hub_endpoint"], "198.18.0.1:51820");
}

TEST(CniNetconf, PrevResultDecodedInTheConfigsVersion) {
  json j = json::parse(kConf);
  j["cniVersion"] = "0.4.0";
  j["prevResult"] = json::parse(R"({"cniVersion":"0.4.0","interfaces":[{"name":"wg0",
      "sandbox":"/run/netns/x"}],"ips":[{"version":"4","address":"10.9.0.2/24","interface":0}]})");
  const NetConf c = parse_netconf(j.dump(), Command::kCheck);
  ASSERT_TRUE(c.prev_result);
  EXPECT_EQ(c.prev_result->ips.at(0).address.str(), "10.9.0.2/24");
  j["prevResult"]["ips"][0]["address"] = "garbage";
  EXPECT_EQ(code_of(j.dump(), Command::kCheck), kDecodeFailure);
}

TEST(CniNetconf, VersionAnswersAnyVersionAndDelIgnoresABadPrevResult) {
  EXPECT_EQ(parse_netconf(R"({"cniVersion":"0.3.1"})", Command::kVersion).cni_version, "0.3.1");
  EXPECT_EQ(parse_netconf(R"({"cniVersion":"9.0.0"})", Command::kVersion).cni_version, "9.0.0");
  json j = json::parse(kConf);
  j["prevResult"] = json::parse(R"({"ips":[{"address":"garbage"}]})");
  const NetConf del = parse_netconf(j.dump(), Command::kDel);
  EXPECT_FALSE(del.prev_result);
  EXPECT_EQ(code_of(j.dump(), Command::kCheck), kDecodeFailure);
}

TEST(CniNetconf, GcAttachmentsAbsentMeansNone) {
  json j = json::parse(kConf);
  EXPECT_TRUE(parse_netconf(j.dump(), Command::kGc).valid_attachments.empty());
  j["cni.dev/valid-attachments"] = json::parse(R"([{"containerID":"abc","ifname":"eth0"}])");
  const NetConf c = parse_netconf(j.dump(), Command::kGc);
  EXPECT_EQ(c.valid_attachments, (std::vector<Attachment>{{"abc", "eth0"}}));
  j["cni.dev/valid-attachments"][0]["containerID"] = "-bad";
  EXPECT_EQ(code_of(j.dump(), Command::kGc), kInvalidConfig);
  j["cni.dev/valid-attachments"][0]["containerID"] = "abc";
  j["cni.dev/valid-attachments"][0]["ifname"] = "a/b";
  EXPECT_EQ(code_of(j.dump(), Command::kGc), kInvalidConfig);
  j["cni.dev/valid-attachments"] = json::object();
  EXPECT_EQ(code_of(j.dump(), Command::kGc), kInvalidConfig);
  // Runtimes send GC and STATUS with older versions too.
  j.erase("cni.dev/valid-attachments");
  j["cniVersion"] = "1.0.0";
  EXPECT_EQ(code_of(j.dump(), Command::kGc), 0);
  EXPECT_EQ(code_of(j.dump(), Command::kStatus), 0);
}

TEST(CniNetconf, RefusalsCarryTheSpecsCodes) {
  EXPECT_EQ(code_of("not json", Command::kAdd), kDecodeFailure);
  EXPECT_EQ(code_of("{\"mtu\": 1e999}", Command::kAdd), kDecodeFailure);  // found by fuzz_cni
  EXPECT_EQ(code_of("[1]", Command::kAdd), kDecodeFailure);
  EXPECT_EQ(code_of(std::string(kMaxConfigBytes + 1, ' '), Command::kAdd), kInvalidConfig);
  const std::vector<std::pair<std::string, int>> edits{
      {R"({"cniVersion":"0.3.1"})", kIncompatibleVersion},
      {R"({"cniVersion":"2.0.0"})", kIncompatibleVersion},
      {R"({"cniVersion":null})", kInvalidConfig},
      {R"({"cniVersion":1})", kDecodeFailure},
      {R"({"name":null})", kInvalidConfig},
      {R"({"name":"has space"})", kInvalidConfig},
      {R"({"type":"../bin/sh"})", kInvalidConfig},
      {R"({"ipam":{"type":"/usr/lib/cni/host-local"}})", kInvalidConfig},
      {R"({"ipam":{"type":null}})", kInvalidConfig},
      {R"({"ipam":"host-local"})", kInvalidConfig},
      {R"({"runtimeConfig":[]})", kInvalidConfig}};
  for (const auto& [patch, code] : edits) {
    json j = json::parse(kConf);
    j.merge_patch(json::parse(patch));
    if (json::parse(patch).begin().value().is_null()) j.erase(json::parse(patch).begin().key());
    EXPECT_EQ(code_of(j.dump(), Command::kAdd), code) << patch;
  }
}

TEST(CniNetconf, SyntaxErrorsNeverQuoteTheInput) {
  try {
    parse_netconf(R"({"cniVersion":"1.1.0","private_key":"c2VjcmV0c2VjcmV0)", Command::kAdd);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("c2VjcmV0"), std::string::npos) << e.what();
  }
}

TEST(CniVersion, VersionReplyAndErrors) {
  const json v = json::parse(version_reply("1.0.0"));
  EXPECT_EQ(v["cniVersion"], "1.0.0");
  EXPECT_EQ(v["supportedVersions"], json::parse(R"(["0.4.0","1.0.0","1.1.0"])"));
  EXPECT_EQ(json::parse(version_reply(""))["cniVersion"], "1.1.0");
  const json e =
      json::parse(encode_error(Error(kInvalidEnvironment, "invalid CNI_IFNAME", "why"), "0.4.0"));
  EXPECT_EQ(
      e,
      json::parse(R"({"cniVersion":"0.4.0","code":4,"msg":"invalid CNI_IFNAME","details":"why"})"));
  EXPECT_EQ(json::parse(encode_error(Error(kIoFailure, "x"), "9.9.9"))["cniVersion"], "1.1.0");
}

}  // namespace
}  // namespace wgnet::cni
