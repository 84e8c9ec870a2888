// JSON field names are Docker's exactly (moby libnetwork drivers/remote/api).
#include "driver/api.h"

#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/ip.h"
#include "util/log.h"

namespace wgnet::driver {

namespace {

using json = nlohmann::json;

// Docker sends IDs, paths, CIDRs and option values: none has a reason to carry NUL or another
// control character, and downstream C interfaces would read a NUL as the end of the string.
void check_text(const std::string& v, const std::string& what) {
  for (unsigned char c : v)
    if (c < 0x20 || c == 0x7f)
      throw InputError(what + ": contains a control character (byte " + std::to_string(c) +
                       "); expected printable text");
}

std::string str_field(const json& j, const char* key, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) throw InputError(std::string("request: field ") + key + " is missing");
    return "";
  }
  if (!it->is_string())
    throw InputError(std::string("request: field ") + key + " must be a string");
  auto v = it->get<std::string>();
  check_text(v, std::string("request: field ") + key);
  return v;
}

std::vector<IpamData> ipam(const json& j, const char* key) {
  std::vector<IpamData> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) throw InputError(std::string("request: ") + key + " must be an array");
  for (const auto& d : *it) {
    if (!d.is_object())
      throw InputError(std::string("request: ") + key + " entries must be objects");
    out.push_back({str_field(d, "Pool", true), str_field(d, "Gateway", false)});
  }
  return out;
}

CreateNetworkRequest parse_create_network(const json& j) {
  CreateNetworkRequest r;
  r.network_id = str_field(j, "NetworkID", true);
  if (auto o = j.find("Options"); o != j.end() && o->is_object()) {
    if (auto g = o->find("com.docker.network.generic"); g != o->end() && g->is_object()) {
      for (const auto& [k, v] : g->items()) {
        check_text(k, "an option name");
        if (v.is_string())
          r.generic[k] = v.get<std::string>();
        else if (v.is_number() || v.is_boolean())
          r.generic[k] = v.dump();
        else
          throw InputError("option " + k + ": expected a string value");
        // Values may be secret (wgnet.seed): the message names the option, never the value.
        check_text(r.generic[k], "option " + k);
      }
    }
    if (auto v6 = o->find("com.docker.network.enable_ipv6"); v6 != o->end() && v6->is_boolean())
      r.enable_ipv6 = v6->get<bool>();
    if (auto in = o->find("com.docker.network.internal"); in != o->end() && in->is_boolean())
      r.internal = in->get<bool>();
  }
  r.ipv4 = ipam(j, "IPv4Data");
  r.ipv6 = ipam(j, "IPv6Data");
  return r;
}

AllocateNetworkRequest parse_allocate_network(const json& j) {
  AllocateNetworkRequest r;
  r.network_id = str_field(j, "NetworkID", true);
  if (auto o = j.find("Options"); o != j.end() && !o->is_null()) {
    if (!o->is_object()) throw InputError("request: Options must be an object");
    for (const auto& [k, v] : o->items()) {
      check_text(k, "an option name");
      if (!v.is_string()) throw InputError("option " + k + ": expected a string value");
      r.options[k] = v.get<std::string>();
      check_text(r.options[k], "option " + k);  // names the option, never the value
    }
  }
  r.ipv4 = ipam(j, "IPv4Data");
  r.ipv6 = ipam(j, "IPv6Data");
  return r;
}

EndpointRef parse_ref(const json& j) {
  return {str_field(j, "NetworkID", true), str_field(j, "EndpointID", true)};
}

CreateEndpointRequest parse_create_endpoint(const json& j) {
  CreateEndpointRequest r;
  r.network_id = str_field(j, "NetworkID", true);
  r.endpoint_id = str_field(j, "EndpointID", true);
  if (auto i = j.find("Interface"); i != j.end() && i->is_object()) {
    r.address = str_field(*i, "Address", false);
    r.address_ipv6 = str_field(*i, "AddressIPv6", false);
    r.mac_address = str_field(*i, "MacAddress", false);
  }
  return r;
}

// Docker's types.PortBinding list: {"Proto":6|17|132,"IP":"","Port":N,"HostIP":"","HostPort":N,
// "HostPortEnd":N}, one entry per container port (the CLI has expanded ranges already).
constexpr size_t kMaxBindings = 4096;

uint16_t port_field(const json& b, const char* key, bool required) {
  auto it = b.find(key);
  if (it == b.end() || it->is_null()) {
    if (required) throw InputError(std::string("port mapping: field ") + key + " is missing");
    return 0;
  }
  if (!it->is_number_unsigned() || it->get<uint64_t>() > 65535)
    throw InputError(std::string("port mapping: ") + key + " must be a port number 0-65535");
  return static_cast<uint16_t>(it->get<uint64_t>());
}

std::vector<portmap::Binding> parse_portmap(const json& options) {
  std::vector<portmap::Binding> out;
  if (!options.is_object()) return out;
  auto pm = options.find("com.docker.network.portmap");
  if (pm == options.end() || pm->is_null()) return out;
  if (!pm->is_array()) throw InputError("request: com.docker.network.portmap must be an array");
  if (pm->size() > kMaxBindings)
    throw InputError("request: more than " + std::to_string(kMaxBindings) + " port mappings");
  for (const auto& b : *pm) {
    if (!b.is_object()) throw InputError("request: port mappings must be objects");
    portmap::Binding binding;
    auto proto = b.find("Proto");
    if (proto == b.end() || !proto->is_number_unsigned())
      throw InputError("port mapping: Proto must be a protocol number");
    binding.container_port = port_field(b, "Port", true);
    switch (proto->get<uint64_t>()) {
      case 6:
        binding.proto = portmap::Proto::kTcp;
        break;
      case 17:
        binding.proto = portmap::Proto::kUdp;
        break;
      case 132:
        throw InputError("port " + std::to_string(binding.container_port) +
                         "/sctp: wgnet publishes TCP and UDP ports only");
      default:
        throw InputError("port mapping: unknown protocol " +
                         std::to_string(proto->get<uint64_t>()));
    }
    std::string host_ip = str_field(b, "HostIP", false);
    if (!host_ip.empty()) {
      binding.host_ip = IpAddress::parse(host_ip);
      if (!binding.host_ip)
        throw InputError("port mapping: HostIP '" + host_ip + "' is not an IP address");
    }
    binding.host_port = port_field(b, "HostPort", false);
    binding.host_port_end = port_field(b, "HostPortEnd", false);
    if (binding.host_port_end == 0) binding.host_port_end = binding.host_port;  // before 20.10
    out.push_back(binding);
  }
  return out;
}

json to_json(const JoinResponse& r) {
  json routes = json::array();
  for (const auto& s : r.static_routes)
    routes.push_back({{"Destination", s.destination}, {"RouteType", s.route_type}});
  return {{"InterfaceName", {{"SrcName", r.src_name}, {"DstPrefix", r.dst_prefix}}},
          {"StaticRoutes", routes},
          {"DisableGatewayService", r.disable_gateway_service}};
}

Reply ok(const json& j = json::object()) { return {200, j.dump() + "\n"}; }

}  // namespace

Reply error_reply(unsigned status, std::string_view message) {
  // Messages may quote input that is not UTF-8; replace such bytes rather than fail.
  return {status,
          json{{"Err", message}}.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"};
}

Reply dispatch(Driver& driver, std::string_view path, std::string_view body) {
  std::string method(
      path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1));
  try {
    if (method == "Plugin.Activate") return ok({{"Implements", {"NetworkDriver"}}});
    if (method == "NetworkDriver.GetCapabilities")
      return ok({{"Scope", driver.scope()}, {"ConnectivityScope", "global"}});
    json j = body.empty() ? json::object() : json::parse(body);
    if (!j.is_object()) throw InputError("request: expected a JSON object");
    if (method == "NetworkDriver.CreateNetwork") {
      driver.create_network(parse_create_network(j));
      return ok();
    }
    if (method == "NetworkDriver.DeleteNetwork") {
      driver.delete_network(str_field(j, "NetworkID", true));
      return ok();
    }
    if (method == "NetworkDriver.CreateEndpoint") {
      driver.create_endpoint(parse_create_endpoint(j));
      return ok();
    }
    if (method == "NetworkDriver.EndpointOperInfo") {
      return ok({{"Value", driver.endpoint_info(parse_ref(j))}});
    }
    if (method == "NetworkDriver.DeleteEndpoint") {
      driver.delete_endpoint(parse_ref(j));
      return ok();
    }
    if (method == "NetworkDriver.Join") {
      JoinRequest r{str_field(j, "NetworkID", true), str_field(j, "EndpointID", true),
                    str_field(j, "SandboxKey", false)};
      return ok(to_json(driver.join(r)));
    }
    if (method == "NetworkDriver.Leave") {
      driver.leave(parse_ref(j));
      return ok();
    }
    if (method == "NetworkDriver.ProgramExternalConnectivity") {
      ExternalConnectivityRequest r;
      r.network_id = str_field(j, "NetworkID", true);
      r.endpoint_id = str_field(j, "EndpointID", true);
      if (auto o = j.find("Options"); o != j.end() && o->is_object()) {
        r.bindings = parse_portmap(*o);
        auto v4 = o->find("com.docker.network.driver.private.no_proxy_6to4");
        r.ipv4_only = v4 != o->end() && v4->is_boolean() && v4->get<bool>();
      }
      driver.program_external_connectivity(r);
      return ok();
    }
    if (method == "NetworkDriver.RevokeExternalConnectivity") {
      driver.revoke_external_connectivity(parse_ref(j));
      return ok();
    }
    if (method == "NetworkDriver.DiscoverNew" || method == "NetworkDriver.DiscoverDelete" ||
        method == "NetworkDriver.FreeNetwork")
      return ok();
    if (method == "NetworkDriver.AllocateNetwork") {
      json options = json::object();
      for (const auto& [k, v] : driver.allocate_network(parse_allocate_network(j))) options[k] = v;
      return ok({{"Options", options}});
    }
    return error_reply(404, std::string(path) + " is not implemented by wgnet");
  } catch (const json::parse_error& e) {
    // The parser's own message quotes the input, which may hold a seed: give the position only.
    std::string why = "malformed request JSON at byte " + std::to_string(e.byte);
    log::warn(method + ": " + why);
    return error_reply(400, method + ": " + why);
  } catch (const json::out_of_range&) {
    // "number overflow parsing '...'" quotes the number, which is input: name the kind only.
    log::warn(method + ": malformed request: a number out of range");
    return error_reply(400, method + ": malformed request: a number out of range");
  } catch (const json::exception& e) {
    // Type errors name a JSON type, never a value.
    log::warn(method + ": malformed request: " + e.what());
    return error_reply(400, method + ": malformed request: " + e.what());
  } catch (const InputError& e) {
    log::warn(method + ": " + e.what());
    return error_reply(200, e.what());
  } catch (const std::exception& e) {
    log::error(method + ": " + e.what());
    return error_reply(200, std::string("wgnet: ") + e.what());
  }
}

}  // namespace wgnet::driver
