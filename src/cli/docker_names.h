// Docker's names for what wgnetd knows by ID: a network's name and, per endpoint, the container
// holding it, from `GET /networks/ID` on Docker's API socket. Asked by `wgnet status`, never by
// wgnetd (a plugin must not call Docker from its handlers).
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "admin/status.h"

namespace wgnet::cli {

struct DockerNetwork {
  std::string name;
  struct Container {
    std::string id, name;
  };
  std::map<std::string, Container> by_endpoint;  // endpoint ID -> its container
};

// Parses Docker's network inspect JSON; throws SystemError when it is not one.
DockerNetwork parse_docker_network(std::string_view json);

// The socket of Docker's API: DOCKER_HOST when it names a unix socket, else /var/run/docker.sock.
std::string default_docker_socket();

// Fills network, container and container_id of `endpoints` from Docker on `socket`. Returns ""
// or, when Docker could not be asked, why (the names then stay empty: short IDs are shown).
std::string add_docker_names(std::vector<admin::EndpointStatus>& endpoints,
                             const std::string& socket);

}  // namespace wgnet::cli
