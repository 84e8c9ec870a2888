// wgnetd's admin API v1 for wgnet-cni: every message round-trips; every bound of
// docs/CNI-PLAN.md §2.3 and every unknown field is refused naming the field, never quoting a value;
// error kinds map to their HTTP statuses.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cni/api_v1.h"

namespace wgnet::cni::api {
namespace {

using nlohmann::json;

Cidr cidr(const char* text) { return *Cidr::parse(text); }

AddRequest add_request() {
  return {"wgnet-a",
          {{"wgnet.endpoint", "198.18.0.1:51820"}, {"wgnet.seed-file", "seed"}},
          {"c0ffee", "eth0"},
          "/run/netns/cni-1",
          {cidr("10.9.0.5/24"), cidr("fd00:9::5/64")}};
}

// The field a DecodeError names, or "" when decoding succeeded.
template <typename Decode>
std::string refusal(Decode decode, const std::string& body) {
  try {
    decode(body);
  } catch (const DecodeError& e) {
    return e.what();
  }
  return "";
}

TEST(CniApiV1, EveryMessageRoundTrips) {
  EXPECT_EQ(decode_add_request(encode(add_request())), add_request());
  const AddResponse add_response{
      "eth0", "wgnet-1a2b3c4d", "KEY=", 1420, {cidr("0.0.0.0/0")}, "cni-wgnet-a-0123456789ab"};
  EXPECT_EQ(decode_add_response(encode(add_response)), add_response);
  const DelRequest del{"wgnet-a", {"c0ffee", "eth0"}, ""};
  EXPECT_EQ(decode_del_request(encode(del)), del);
  EXPECT_EQ(decode_del_response(encode(DelResponse{true})), DelResponse{true});
  const CheckRequest check{"wgnet-a", {"c0ffee", "eth0"}, "/run/netns/cni-1", {}};
  EXPECT_EQ(decode_check_request(encode(check)), check);
  const GcRequest gc{"wgnet-a", {{"a", "eth0"}, {"b", "eth1"}}};
  EXPECT_EQ(decode_gc_request(encode(gc)), gc);
  const GcResponse gc_response{{{{"c", "eth0"}, {cidr("10.9.0.7/24")}}}};
  EXPECT_EQ(decode_gc_response(encode(gc_response)), gc_response);
  const StatusRequest status{"wgnet-a", {{"wgnet.kdf", "hkdf"}}};
  EXPECT_EQ(decode_status_request(encode(status)), status);
  const Info info{{1}, "wgnetd 0.9", {"kernel", "engine"}, "engine"};
  EXPECT_EQ(decode_info(encode(info)), info);
  const ApiError error{ErrorKind::kCheckFailed, "interface missing", "no eth0 in /run/netns/x", "",
                       "interface"};
  EXPECT_EQ(decode_error(encode(error)), error);
}

TEST(CniApiV1, UnknownFieldsAreRefusedByRequests) {
  json j = json::parse(encode(add_request()));
  j["replace_peers"] = true;
  EXPECT_EQ(refusal(decode_add_request, j.dump()), "replace_peers: unknown field");
  json gc = json::parse(encode(GcRequest{"n", {{"a", "eth0"}}}));
  gc["valid"][0]["extra"] = 1;
  EXPECT_EQ(refusal(decode_gc_request, gc.dump()), "valid[0].extra: unknown field");
  // GET /v1 and errors may grow: an older client reads what it knows.
  json info = json::parse(encode(Info{{1, 2}, "w", {}, "engine"}));
  info["newer"] = "x";
  EXPECT_EQ(decode_info(info.dump()).api, (std::vector<int>{1, 2}));
  EXPECT_EQ(decode_error(R"({"error":{"kind":"from-the-future","message":"m","x":1}})").kind,
            ErrorKind::kInternal);
}

TEST(CniApiV1, BoundsAndFormsAreChecked) {
  auto with = [](const char* key, json value) {
    json j = json::parse(encode(add_request()));
    j[key] = std::move(value);
    return j.dump();
  };
  const std::vector<std::pair<std::string, std::string>> cases{
      {with("network", "has space"), "network"},
      {with("network", std::string(129, 'a')), "network"},
      {with("container_id", "-x"), "container_id"},
      {with("container_id", std::string(257, 'a')), "container_id"},
      {with("ifname", "sixteen-chars-xx"), "ifname"},
      {with("ifname", "a:b"), "ifname"},
      {with("netns", "relative"), "netns"},
      {with("netns", ""), "netns"},
      {with("addresses", json::array()), "addresses"},
      {with("addresses", json::array({"10.0.0.1/24", "10.0.0.2/24"})), "addresses"},
      {with("addresses", json::array({"10.0.0.1/24", "fd00::1/64", "10.0.0.3/24"})), "addresses"},
      {with("addresses", json::array({"10.0.0.1"})), "addresses"},
      {with("options", json::array()), "options"},
      {with("options", json{{"wgnet.mtu", 1420}}), "options.wgnet.mtu"},
      {with("options", json{{"wgnet.x", std::string(8193, 'v')}}), "options.wgnet.x"},
      {with("options", json{{std::string(65, 'k'), "v"}}), "options"},
      {"[]", "body"},
      {R"({"network": 1e999})", "body"},  // out of range, not a syntax error: found by fuzz_cni
      {"{", "body"},
      {std::string(kMaxBody + 1, ' '), "body"}};
  for (const auto& [body, field] : cases) {
    const std::string why = refusal(decode_add_request, body);
    EXPECT_EQ(why.substr(0, field.size() + 1), field + ":") << body.substr(0, 120) << " -> " << why;
  }
  json many = json::object();
  for (int i = 0; i < 33; i++) many["wgnet.o" + std::to_string(i)] = "v";
  EXPECT_EQ(refusal(decode_add_request, with("options", many)).substr(0, 8), "options:");
  json valid = json::array();
  for (size_t i = 0; i <= kMaxValid; i++) valid.push_back({{"container_id", "c"}, {"ifname", "e"}});
  EXPECT_EQ(
      refusal(decode_gc_request, json{{"network", "n"}, {"valid", valid}}.dump()).substr(0, 6),
      "valid:");
  // DEL may come without a namespace (the runtime's may be gone).
  EXPECT_EQ(decode_del_request(R"({"network":"n","container_id":"c","ifname":"e"})").netns, "");
}

TEST(CniApiV1, RefusalsNeverQuoteValues) {
  json j = json::parse(encode(add_request()));
  j["options"]["wgnet.seed"] = json::array({"c2VjcmV0c2VjcmV0"});
  const std::string why = refusal(decode_add_request, j.dump());
  EXPECT_NE(why, "");
  EXPECT_EQ(why.find("c2VjcmV0"), std::string::npos) << why;
  json named = json::parse(encode(add_request()));
  named["c2VjcmV0c2VjcmV0"] = 1;  // a key where a field name goes
  EXPECT_EQ(refusal(decode_add_request, named.dump()), "<a name not shown>: unknown field");
  named.erase("c2VjcmV0c2VjcmV0");
  named["x_c2VjcmV0c2VjcmV0_y"] = 1;  // inside a longer name (found by fuzz_cni)
  EXPECT_EQ(refusal(decode_add_request, named.dump()), "<a name not shown>: unknown field");
  named.erase("x_c2VjcmV0c2VjcmV0_y");
  named["options"]["c2VjcmV0c2VjcmV0"] = 1;
  EXPECT_EQ(refusal(decode_add_request, named.dump()),
            "options.<a name not shown>: expected a string");
  const std::string syntax = refusal(decode_add_request, R"({"options":{"wgnet.seed":"c2VjcmV0)");
  EXPECT_EQ(syntax.find("c2VjcmV0"), std::string::npos) << syntax;
}

TEST(CniApiV1, KindsMapToHttpStatuses) {
  EXPECT_EQ(http_status(ErrorKind::kInvalidConfig), 400);
  EXPECT_EQ(http_status(ErrorKind::kForbidden), 403);
  EXPECT_EQ(http_status(ErrorKind::kNotFound), 404);
  EXPECT_EQ(http_status(ErrorKind::kCheckFailed), 409);
  EXPECT_EQ(http_status(ErrorKind::kBusy), 503);
  EXPECT_EQ(http_status(ErrorKind::kInternal), 500);
  EXPECT_EQ(kind_name(ErrorKind::kUnknownOption), "unknown-option");
  EXPECT_EQ(json::parse(encode(ApiError{ErrorKind::kNotReady, "m", "", "", ""}))["error"]["kind"],
            "not-ready");
}

}  // namespace
}  // namespace wgnet::cni::api
