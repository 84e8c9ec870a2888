// The dispatcher: Docker's JSON in, typed calls out, {"Err": ...} for every failure.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "driver/api.h"
#include "util/error.h"

using namespace wgnet;
using json = nlohmann::json;

namespace {

struct FakeDriver : driver::Driver {
  driver::CreateNetworkRequest network;
  driver::CreateEndpointRequest endpoint;
  std::string deleted, left;
  bool fail = false;
  void create_network(const driver::CreateNetworkRequest& r) override {
    if (fail) throw InputError("wgnet.endpoint is required");
    network = r;
  }
  void delete_network(const std::string& id) override { deleted = id; }
  void create_endpoint(const driver::CreateEndpointRequest& r) override { endpoint = r; }
  std::map<std::string, std::string> endpoint_info(const driver::EndpointRef&) override {
    return {{"wgnet.interface", "wgnet-1"}};
  }
  void delete_endpoint(const driver::EndpointRef& r) override { deleted = r.endpoint_id; }
  driver::JoinResponse join(const driver::JoinRequest& r) override {
    driver::JoinResponse j;
    j.src_name = "wgnet-" + r.endpoint_id;
    j.dst_prefix = "wg";
    j.static_routes = {{"0.0.0.0/0", 1}};
    return j;
  }
  void leave(const driver::EndpointRef& r) override { left = r.endpoint_id; }
  void program_external_connectivity(const driver::ExternalConnectivityRequest& r) override {
    programmed.push_back(r);
  }
  void revoke_external_connectivity(const driver::EndpointRef& r) override {
    revoked.push_back(r.endpoint_id);
  }
  std::vector<driver::ExternalConnectivityRequest> programmed;
  std::vector<std::string> revoked;
  std::string scope() const override { return global ? "global" : "local"; }
  std::map<std::string, std::string> allocate_network(
      const driver::AllocateNetworkRequest& r) override {
    allocated = r;
    auto out = r.options;
    out["added"] = "by-driver";
    return out;
  }
  bool global = false;
  driver::AllocateNetworkRequest allocated;
};

json call(driver::Driver& d, const char* path, const std::string& body,
          unsigned* status = nullptr) {
  auto r = driver::dispatch(d, path, body);
  if (status) *status = r.status;
  EXPECT_FALSE(r.body.empty()) << "every reply needs a JSON body";
  return json::parse(r.body);
}

}  // namespace

TEST(Api, ActivateAndCapabilities) {
  FakeDriver d;
  EXPECT_EQ(call(d, "/Plugin.Activate", ""), json::parse(R"({"Implements":["NetworkDriver"]})"));
  EXPECT_EQ(call(d, "/NetworkDriver.GetCapabilities", ""),
            json::parse(R"({"Scope":"local","ConnectivityScope":"global"})"));
}

TEST(Api, CapabilitiesScopeIsTheDrivers) {
  FakeDriver d;
  d.global = true;
  EXPECT_EQ(call(d, "/NetworkDriver.GetCapabilities", ""),
            json::parse(R"({"Scope":"global","ConnectivityScope":"global"})"));
}

// As swarmkit's allocator sends it (remote driver NetworkAllocate): flat options, IPv4 pools with
// the gateway, no IPv6. The reply's Options reach CreateNetwork on every node.
TEST(Api, AllocateNetworkPassesOptionsOnAndFreeNetworkIsANoOp) {
  FakeDriver d;
  auto r =
      call(d, "/NetworkDriver.AllocateNetwork",
           R"({"NetworkID":"n1","Options":{"wgnet.endpoint":"198.18.42.2:1","wgnet.keepalive":"5"},
      "IPv4Data":[{"AddressSpace":"","Pool":"10.1.0.0/24","Gateway":"10.1.0.254/24","AuxAddresses":null}],
      "IPv6Data":null})"
           "\n");
  EXPECT_EQ(r, json::parse(R"({"Options":{"wgnet.endpoint":"198.18.42.2:1","wgnet.keepalive":"5",
      "added":"by-driver"}})"));
  EXPECT_EQ(d.allocated.network_id, "n1");
  ASSERT_EQ(d.allocated.ipv4.size(), 1u);
  EXPECT_EQ(d.allocated.ipv4[0].gateway, "10.1.0.254/24");
  EXPECT_TRUE(d.allocated.ipv6.empty());
  EXPECT_EQ(call(d, "/NetworkDriver.AllocateNetwork", R"({"NetworkID":"n2"})"),
            json::parse(R"({"Options":{"added":"by-driver"}})"));
  r = call(d, "/NetworkDriver.AllocateNetwork",
           R"({"NetworkID":"n3","Options":{"wgnet.mtu":1400}})");
  EXPECT_NE(r["Err"].get<std::string>().find("wgnet.mtu"), std::string::npos);
  EXPECT_EQ(call(d, "/NetworkDriver.FreeNetwork", R"({"NetworkID":"n1"})"), json::object());
}

TEST(Api, CreateNetworkAsDockerSendsIt) {
  FakeDriver d;
  auto r = call(d, "/NetworkDriver.CreateNetwork",
                R"({"NetworkID":"n1","Options":{
      "com.docker.network.enable_ipv6":true,
      "com.docker.network.generic":{"wgnet.endpoint":"198.18.42.2:1","wgnet.keepalive":"5"}},
      "IPv4Data":[{"AddressSpace":"LocalDefault","Pool":"10.1.0.0/24","Gateway":"10.1.0.1/24"}],
      "IPv6Data":[{"AddressSpace":"LocalDefault","Pool":"fd00::/64"}]})"
                "\n");
  EXPECT_EQ(r, json::object());
  EXPECT_EQ(d.network.network_id, "n1");
  EXPECT_TRUE(d.network.enable_ipv6);
  EXPECT_FALSE(d.network.internal);
  EXPECT_EQ(d.network.generic.at("wgnet.keepalive"), "5");
  ASSERT_EQ(d.network.ipv4.size(), 1u);
  EXPECT_EQ(d.network.ipv4[0].gateway, "10.1.0.1/24");
  ASSERT_EQ(d.network.ipv6.size(), 1u);
  EXPECT_EQ(d.network.ipv6[0].gateway, "");
}

TEST(Api, ErrorsBecomeErr) {
  FakeDriver d;
  d.fail = true;
  auto r = call(d, "/NetworkDriver.CreateNetwork", R"({"NetworkID":"n1"})");
  EXPECT_EQ(r["Err"], "wgnet.endpoint is required");
  unsigned status = 0;
  r = call(d, "/NetworkDriver.CreateNetwork", "{not json", &status);
  EXPECT_NE(r["Err"].get<std::string>().find("malformed"), std::string::npos);
  r = call(d, "/NetworkDriver.CreateEndpoint", R"({"NetworkID":"n1"})");
  EXPECT_NE(r["Err"].get<std::string>().find("EndpointID"), std::string::npos);
  r = call(d, "/NetworkDriver.Nope", "{}", &status);
  EXPECT_EQ(status, 404u);
  EXPECT_TRUE(r.contains("Err"));
}

TEST(Api, JoinReplyHasDockersFieldNames) {
  FakeDriver d;
  auto r = call(
      d, "/NetworkDriver.Join",
      R"({"NetworkID":"n1","EndpointID":"e1","SandboxKey":"/var/run/docker/netns/x","Options":{}})");
  EXPECT_EQ(r, json::parse(R"({"InterfaceName":{"SrcName":"wgnet-e1","DstPrefix":"wg"},
      "StaticRoutes":[{"Destination":"0.0.0.0/0","RouteType":1}],"DisableGatewayService":true})"));
  EXPECT_FALSE(r.contains("MacAddress"));
}

TEST(Api, EndpointCallsAndNoOps) {
  FakeDriver d;
  call(
      d, "/NetworkDriver.CreateEndpoint",
      R"({"NetworkID":"n1","EndpointID":"e1","Interface":{"Address":"10.1.0.2/24","AddressIPv6":"","MacAddress":""},"Options":{}})");
  EXPECT_EQ(d.endpoint.address, "10.1.0.2/24");
  EXPECT_EQ(call(d, "/NetworkDriver.EndpointOperInfo",
                 R"({"NetworkID":"n1","EndpointID":"e1"})")["Value"]["wgnet.interface"],
            "wgnet-1");
  call(d, "/NetworkDriver.Leave", R"({"NetworkID":"n1","EndpointID":"e1"})");
  EXPECT_EQ(d.left, "e1");
  call(d, "/NetworkDriver.DeleteEndpoint", R"({"NetworkID":"n1","EndpointID":"e1"})");
  EXPECT_EQ(d.deleted, "e1");
  for (const char* m : {"/NetworkDriver.DiscoverNew", "/NetworkDriver.DiscoverDelete"})
    EXPECT_EQ(call(d, m, R"({"DiscoveryType":1})"), json::object()) << m;
}

// wgnet does not offer GwAllocCheck (Docker 28): Docker keeps reserving the gateway address, which
// is the hub's (docs/DOCKER.md says why).
TEST(Api, NoGwAllocChecker) {
  FakeDriver d;
  EXPECT_FALSE(call(d, "/NetworkDriver.GetCapabilities", "").contains("GwAllocChecker"));
}

// Docker 28.5.2's body for `docker run -p 127.0.0.1:18092:8080 -p 18100-18101:9000-9001/udp`
// (moby's remote driver: the sandbox's labels; the CLI expands ranges to one entry per port).
TEST(Api, ProgramExternalConnectivityAsDocker28SendsIt) {
  FakeDriver d;
  auto r = call(d, "/NetworkDriver.ProgramExternalConnectivity",
                R"({"NetworkID":"n1","EndpointID":"e1",
      "Options":{"com.docker.network.driver.private.no_proxy_6to4":false,
      "com.docker.network.endpoint.exposedports":[{"Proto":17,"Port":9001},{"Proto":17,"Port":9000},
        {"Proto":6,"Port":8080}],
      "com.docker.network.portmap":[
        {"Proto":17,"IP":"","Port":9001,"HostIP":"","HostPort":18101,"HostPortEnd":18101},
        {"Proto":17,"IP":"","Port":9000,"HostIP":"","HostPort":18100,"HostPortEnd":18100},
        {"Proto":6,"IP":"","Port":8080,"HostIP":"127.0.0.1","HostPort":18092,"HostPortEnd":18092}]}})"
                "\n");
  EXPECT_EQ(r, json::object());
  ASSERT_EQ(d.programmed.size(), 1u);
  const auto& p = d.programmed[0];
  EXPECT_EQ(p.endpoint_id, "e1");
  ASSERT_EQ(p.bindings.size(), 3u);
  EXPECT_EQ(p.bindings[0].proto, portmap::Proto::kUdp);
  EXPECT_EQ(p.bindings[0].container_port, 9001);
  EXPECT_FALSE(p.bindings[0].host_ip);
  EXPECT_EQ(p.bindings[0].host_port, 18101);
  EXPECT_EQ(p.bindings[2].proto, portmap::Proto::kTcp);
  EXPECT_EQ(p.bindings[2].host_ip, IpAddress::parse("127.0.0.1"));
  EXPECT_EQ(p.bindings[2].host_port_end, 18092);
  EXPECT_FALSE(p.ipv4_only);
  r = call(d, "/NetworkDriver.ProgramExternalConnectivity", R"({"NetworkID":"n1","EndpointID":"e1",
      "Options":{"com.docker.network.driver.private.no_proxy_6to4":true}})");
  EXPECT_TRUE(d.programmed.back().ipv4_only);
}

// Docker 29: no no_proxy_6to4 unless another endpoint is the IPv6 gateway, any order, sent again
// whenever the gateway role changes; Revoke carries no Options. 20.10 and 26 send the same shape.
TEST(Api, ExternalConnectivityAsDocker29SendsIt) {
  FakeDriver d;
  const std::string body = R"({"NetworkID":"n1","EndpointID":"e1","Options":{
      "com.docker.network.portmap":[
        {"Proto":6,"IP":"","Port":80,"HostIP":"::1","HostPort":8000,"HostPortEnd":8010}]}})";
  EXPECT_EQ(call(d, "/NetworkDriver.ProgramExternalConnectivity", body), json::object());
  EXPECT_EQ(call(d, "/NetworkDriver.ProgramExternalConnectivity", body), json::object());
  ASSERT_EQ(d.programmed.size(), 2u);
  EXPECT_EQ(d.programmed[1].bindings[0].host_ip, IpAddress::parse("::1"));
  EXPECT_EQ(d.programmed[1].bindings[0].host_port_end, 8010);
  EXPECT_EQ(call(d, "/NetworkDriver.RevokeExternalConnectivity",
                 R"({"NetworkID":"n1","EndpointID":"e1"})"),
            json::object());
  EXPECT_EQ(d.revoked, std::vector<std::string>{"e1"});
  // No ports (a container without -p is still programmed): nothing to publish.
  EXPECT_EQ(call(d, "/NetworkDriver.ProgramExternalConnectivity",
                 R"({"NetworkID":"n1","EndpointID":"e2","Options":{}})"),
            json::object());
  EXPECT_TRUE(d.programmed.back().bindings.empty());
}

TEST(Api, PortMappingsAreValidated) {
  FakeDriver d;
  auto err = [&](const std::string& binding) {
    auto r =
        call(d, "/NetworkDriver.ProgramExternalConnectivity",
             R"({"NetworkID":"n1","EndpointID":"e1","Options":{"com.docker.network.portmap":[)" +
                 binding + "]}}");
    return r.value("Err", std::string());
  };
  EXPECT_NE(err(R"({"Proto":132,"Port":9,"HostPort":9})").find("9/sctp"), std::string::npos);
  EXPECT_NE(err(R"({"Proto":"tcp","Port":9,"HostPort":9})").find("Proto"), std::string::npos);
  EXPECT_NE(err(R"({"Proto":6,"Port":70000,"HostPort":9})").find("Port"), std::string::npos);
  EXPECT_NE(err(R"({"Proto":6,"Port":9,"HostPort":-1})").find("HostPort"), std::string::npos);
  EXPECT_NE(
      err(R"({"Proto":6,"Port":9,"HostIP":"localhost","HostPort":9})").find("HostIP 'localhost'"),
      std::string::npos);
  EXPECT_NE(err(R"({"Proto":6,"HostPort":9})").find("Port is missing"), std::string::npos);
  EXPECT_NE(err(R"("6/tcp")").find("objects"), std::string::npos);
  EXPECT_TRUE(d.programmed.empty()) << "a malformed request reached the driver";
}

TEST(Api, MalformedJsonErrorsNeverQuoteTheInput) {
  FakeDriver d;
  auto r = driver::dispatch(d, "/NetworkDriver.CreateNetwork",
                            R"({"NetworkID":"n","Options":{"com.docker.network.generic":)"
                            R"({"wgnet.seed":"U0VDUkVUU0VFRA==" "x"}}})");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.body.find("U0VDUkVU"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("byte"), std::string::npos) << r.body;
}

// Found by tests/fuzz (corpus/api/number-overflow): the parser's "number overflow parsing '...'"
// quoted the number, which is input.
TEST(Api, NumberOverflowErrorsNeverQuoteTheInput) {
  FakeDriver d;
  auto r = driver::dispatch(d, "/NetworkDriver.CreateNetwork",
                            R"({"NetworkID":"n","Options":{"com.docker.network.generic":)"
                            R"({"wgnet.seed":1234567890123E99999}}})");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.body.find("1234567890123"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("malformed"), std::string::npos) << r.body;
  EXPECT_TRUE(d.network.network_id.empty());
}

TEST(Api, ControlCharactersAreRefused) {
  FakeDriver d;
  // "10.1.0.5\0junk/24" used to reach the driver and parse as 10.1.0.5/24.
  auto r = driver::dispatch(d, "/NetworkDriver.CreateEndpoint",
                            R"({"NetworkID":"n","EndpointID":"e","Interface":)"
                            R"({"Address":"10.1.0.5\u0000junk/24"}})");
  EXPECT_NE(r.body.find("control character"), std::string::npos) << r.body;
  EXPECT_TRUE(d.endpoint.endpoint_id.empty()) << "the request reached the driver";
  r = driver::dispatch(d, "/NetworkDriver.CreateNetwork",
                       R"({"NetworkID":"n","Options":{"com.docker.network.generic":)"
                       R"({"wgnet.seed":"U0VD\nUkVU"}}})");
  EXPECT_NE(r.body.find("option wgnet.seed: contains a control character"), std::string::npos)
      << r.body;
  EXPECT_EQ(r.body.find("U0VD"), std::string::npos) << r.body;
  EXPECT_TRUE(d.network.network_id.empty());
}
