// The admin socket is root-only: a refusal is explained as such rather than as a bare EACCES.
#include "cli/status.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <vector>

#include "admin/status.h"
#include "cli/docker_names.h"
#include "http/client.h"
#include "util/error.h"

namespace wgnet::cli {

namespace {

struct StatusOptions {
  std::string admin_socket;
  bool admin_socket_chosen = false;  // by --admin-socket or WGNETD_ADMIN_SOCKET
  std::string docker_socket;
  bool json = false;
};

std::vector<admin::EndpointStatus> ask_wgnetd(const std::string& socket) {
  http::Response r;
  try {
    r = http::unix_request(socket, "GET", "/status");
  } catch (const SystemError& e) {
    throw SystemError(std::string(e.what()) +
                      "; is wgnetd running with this --admin-socket (root only)?");
  }
  if (r.status != 200)
    throw SystemError("wgnetd's admin socket " + socket + " answered HTTP " +
                      std::to_string(r.status) + ": " + r.body);
  return admin::decode_report(r.body);
}

int run_status(const StatusOptions& o) {
  auto endpoints = ask_wgnetd(
      find_admin_socket(o.admin_socket, o.admin_socket_chosen, admin::kManagedPluginDir));
  std::string why_no_names = add_docker_names(endpoints, o.docker_socket);
  if (!why_no_names.empty()) std::cerr << "wgnet: " << why_no_names << "\n";
  admin::sort_for_display(endpoints);
  int64_t now = std::time(nullptr);
  std::cout << (o.json ? admin::format_json(endpoints, now) : admin::format_table(endpoints, now));
  std::cout.flush();
  return std::cout ? 0 : 1;
}

}  // namespace

std::string find_admin_socket(const std::string& path, bool chosen, const std::string& plugin_dir) {
  struct stat st {};
  if (chosen || ::stat(path.c_str(), &st) == 0) return path;
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator(plugin_dir, ec)) {
    auto candidate = d.path() / "admin.sock";
    if (::stat(candidate.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) found.push_back(candidate);
  }
  if (found.size() == 1) return found[0];
  if (found.empty()) return path;
  std::sort(found.begin(), found.end());
  std::string list;
  for (const auto& f : found) list += "\n  " + f;
  throw InputError("no wgnetd at " + path +
                   ", and several managed plugins have an admin socket; choose one with "
                   "--admin-socket:" +
                   list);
}

void add_status_command(CLI::App& app, std::function<int()>& selected) {
  auto o = std::make_shared<StatusOptions>();
  const char* env = std::getenv(admin::kSocketEnv);
  o->admin_socket = env && *env ? env : admin::kDefaultSocket;
  o->admin_socket_chosen = env && *env;
  o->docker_socket = default_docker_socket();
  auto* status = app.add_subcommand(
      "status",
      "show every wgnet endpoint: network, container, address, public key, backend, hub "
      "endpoint, last handshake, bytes received/sent, healthy (handshake younger than 3 "
      "minutes). Asks wgnetd over its admin socket (root only); names come from Docker, else "
      "short IDs (the endpoint's for the container)");
  status->add_flag("--json", o->json,
                   "print a JSON array of endpoint objects (network, container, address, "
                   "public_key, backend, endpoint, last_handshake in Unix seconds (0: never), "
                   "rx_bytes, tx_bytes, healthy, peers, ...)");
  status
      ->add_option("--admin-socket", o->admin_socket,
                   std::string("wgnetd's admin socket (wgnetd --admin-socket; also $") +
                       admin::kSocketEnv +
                       "). Without it and without the default, a managed "
                       "plugin's (/run/docker/plugins/ID/admin.sock) when there is one")
      ->capture_default_str()
      ->each([o](const std::string&) { o->admin_socket_chosen = true; });
  status
      ->add_option("--docker-socket", o->docker_socket,
                   "Docker's API socket, for names ($DOCKER_HOST's unix socket if set); '' to "
                   "show IDs only")
      ->capture_default_str();
  status->callback([o, &selected] { selected = [o] { return run_status(*o); }; });
}

}  // namespace wgnet::cli
