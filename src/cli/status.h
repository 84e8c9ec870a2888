// `wgnet status`: every wgnet endpoint with its network, container, address, key, backend, hub
// endpoint, last handshake, bytes and health, as wgnetd reports it over its admin socket, with
// Docker's names added when Docker can be asked.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace wgnet::cli {

// The admin socket to ask: `path` when the user chose it or it exists; else a managed plugin's
// (PLUGIN_DIR/ID/admin.sock on the host, packaging/plugin/config.json) when exactly one exists;
// else `path` (whose absence the caller then reports). Several plugins: InputError listing them.
std::string find_admin_socket(const std::string& path, bool chosen, const std::string& plugin_dir);

// Registers `status` on `app`; when chosen, `selected` runs it.
void add_status_command(CLI::App& app, std::function<int()>& selected);

}  // namespace wgnet::cli
