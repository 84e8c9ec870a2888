#include "cni/result.h"

#include "cni/error.h"
#include "cni/version.h"

namespace wgnet::cni {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& field, const std::string& why) {
  throw Error(kDecodeFailure, "invalid result", field + ": " + why);
}

const json* member(const json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

std::string string_at(const json& j, const char* key, const std::string& where, bool required) {
  const json* v = member(j, key);
  if (!v) {
    if (required) bad(where + "." + key, "missing");
    return {};
  }
  if (!v->is_string()) bad(where + "." + key, "expected a string");
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > 4096) bad(where + "." + key, "longer than 4096 bytes");
  return s;
}

std::optional<uint32_t> uint_at(const json& j, const char* key, const std::string& where) {
  const json* v = member(j, key);
  if (!v) return std::nullopt;
  if (!v->is_number_unsigned() || v->get<uint64_t>() > UINT32_MAX)
    bad(where + "." + key, "expected an unsigned 32-bit number");
  return v->get<uint32_t>();
}

const json& array_at(const json& j, const char* key, const std::string& where) {
  static const json empty = json::array();
  const json* v = member(j, key);
  if (!v) return empty;
  if (!v->is_array()) bad(where + "." + key, "expected an array");
  if (v->size() > kMaxResultEntries)
    bad(where + "." + key, "more than " + std::to_string(kMaxResultEntries) + " entries");
  return *v;
}

std::vector<std::string> strings_at(const json& j, const char* key, const std::string& where) {
  std::vector<std::string> out;
  for (const auto& v : array_at(j, key, where)) {
    if (!v.is_string()) bad(where + "." + key, "expected strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

Cidr cidr_at(const json& j, const char* key, const std::string& where) {
  const std::string text = string_at(j, key, where, true);
  auto c = Cidr::parse(text);
  if (!c || text.find('/') == std::string::npos)
    bad(where + "." + key, "expected an address/prefix");
  return *c;
}

std::optional<IpAddress> address_at(const json& j, const char* key, const std::string& where) {
  const std::string text = string_at(j, key, where, false);
  if (text.empty()) return std::nullopt;
  auto a = IpAddress::parse(text);
  if (!a) bad(where + "." + key, "expected an IP address");
  return a;
}

}  // namespace

json encode_result(const Result& result, std::string_view version) {
  json j{{"cniVersion", std::string(version)}};
  if (!result.interfaces.empty()) {
    json interfaces = json::array();
    for (const auto& i : result.interfaces) {
      json e{{"name", i.name}};
      if (!i.mac.empty()) e["mac"] = i.mac;
      if (i.mtu && interfaces_carry_mtu(version)) e["mtu"] = *i.mtu;
      e["sandbox"] = i.sandbox;
      interfaces.push_back(std::move(e));
    }
    j["interfaces"] = std::move(interfaces);
  }
  json ips = json::array();
  for (const auto& ip : result.ips) {
    json e{{"address", ip.address.str()}};
    if (ips_carry_version(version)) e["version"] = ip.address.address().is_v4() ? "4" : "6";
    if (ip.gateway) e["gateway"] = ip.gateway->str();
    if (ip.interface) e["interface"] = *ip.interface;
    ips.push_back(std::move(e));
  }
  j["ips"] = std::move(ips);
  if (!result.routes.empty()) {
    json routes = json::array();
    for (const auto& r : result.routes) {
      json e{{"dst", r.dst.str()}};
      if (r.gw) e["gw"] = r.gw->str();
      routes.push_back(std::move(e));
    }
    j["routes"] = std::move(routes);
  }
  json dns = json::object();
  if (!result.dns.nameservers.empty()) dns["nameservers"] = result.dns.nameservers;
  if (!result.dns.domain.empty()) dns["domain"] = result.dns.domain;
  if (!result.dns.search.empty()) dns["search"] = result.dns.search;
  if (!result.dns.options.empty()) dns["options"] = result.dns.options;
  j["dns"] = std::move(dns);
  return j;
}

Result decode_result(const json& j, std::string_view version) {
  if (!j.is_object()) bad("result", "expected an object");
  Result r;
  size_t n = 0;
  for (const auto& e : array_at(j, "interfaces", "result")) {
    const std::string where = "interfaces[" + std::to_string(n++) + "]";
    if (!e.is_object()) bad(where, "expected an object");
    r.interfaces.push_back({string_at(e, "name", where, true), string_at(e, "mac", where, false),
                            string_at(e, "sandbox", where, false), uint_at(e, "mtu", where)});
  }
  n = 0;
  for (const auto& e : array_at(j, "ips", "result")) {
    const std::string where = "ips[" + std::to_string(n++) + "]";
    if (!e.is_object()) bad(where, "expected an object");
    IpConfig ip{cidr_at(e, "address", where), address_at(e, "gateway", where),
                uint_at(e, "interface", where)};
    if (ips_carry_version(version)) {
      const std::string v = string_at(e, "version", where, false);
      const std::string expected = ip.address.address().is_v4() ? "4" : "6";
      if (!v.empty() && v != expected) bad(where + ".version", "does not match the address");
    }
    if (ip.interface && !r.interfaces.empty() && *ip.interface >= r.interfaces.size())
      bad(where + ".interface", "no such interface");
    r.ips.push_back(std::move(ip));
  }
  n = 0;
  for (const auto& e : array_at(j, "routes", "result")) {
    const std::string where = "routes[" + std::to_string(n++) + "]";
    if (!e.is_object()) bad(where, "expected an object");
    r.routes.push_back({cidr_at(e, "dst", where), address_at(e, "gw", where)});
  }
  if (const json* dns = member(j, "dns")) {
    if (!dns->is_object()) bad("dns", "expected an object");
    r.dns.nameservers = strings_at(*dns, "nameservers", "dns");
    r.dns.domain = string_at(*dns, "domain", "dns", false);
    r.dns.search = strings_at(*dns, "search", "dns");
    r.dns.options = strings_at(*dns, "options", "dns");
  }
  return r;
}

}  // namespace wgnet::cni
