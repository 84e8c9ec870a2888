// One request per network, each with a short timeout: a slow or absent Docker costs the names,
// never the status.
#include "cli/docker_names.h"

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>

#include "http/client.h"
#include "util/error.h"

namespace wgnet::cli {

using json = nlohmann::json;

DockerNetwork parse_docker_network(std::string_view text) {
  try {
    json j = json::parse(text);
    DockerNetwork n;
    n.name = j.value("Name", "");
    auto containers = j.find("Containers");
    if (containers != j.end() && containers->is_object())
      for (const auto& [id, c] : containers->items()) {
        std::string endpoint = c.value("EndpointID", "");
        if (!endpoint.empty()) n.by_endpoint[endpoint] = {id, c.value("Name", "")};
      }
    return n;
  } catch (const json::exception& e) {
    throw SystemError(std::string("Docker's network description is malformed: ") + e.what());
  }
}

std::string default_docker_socket() {
  const char* host = std::getenv("DOCKER_HOST");
  std::string_view h = host ? host : "";
  if (h.substr(0, 7) == "unix://") return std::string(h.substr(7));
  return "/var/run/docker.sock";
}

std::string add_docker_names(std::vector<admin::EndpointStatus>& endpoints,
                             const std::string& socket) {
  if (socket.empty()) return "";
  std::set<std::string> networks;
  for (const auto& e : endpoints) networks.insert(e.network_id);
  http::ClientOptions options;
  options.timeout = std::chrono::milliseconds(3000);
  std::map<std::string, DockerNetwork> known;
  for (const auto& id : networks) {
    http::Response r;
    try {
      r = http::unix_request(socket, "GET", "/networks/" + id, {}, options);
    } catch (const SystemError& e) {
      return std::string("Docker's names are not shown (") + e.what() + ")";
    }
    if (r.status == 200) known[id] = parse_docker_network(r.body);
    // Another status (404: Docker no longer knows the network): that network keeps its ID.
  }
  for (auto& e : endpoints) {
    auto n = known.find(e.network_id);
    if (n == known.end()) continue;
    e.network = n->second.name;
    auto c = n->second.by_endpoint.find(e.endpoint_id);
    if (c == n->second.by_endpoint.end()) continue;
    e.container = c->second.name;
    e.container_id = c->second.id;
  }
  return "";
}

}  // namespace wgnet::cli
