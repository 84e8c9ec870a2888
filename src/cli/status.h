// `wgnet status`: every wgnet endpoint with its network, container, address, key, backend, hub
// endpoint, last handshake, bytes and health, as wgnetd reports it over its admin socket, with
// Docker's names added when Docker can be asked.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace wgnet::cli {

// Registers `status` on `app`; when chosen, `selected` runs it.
void add_status_command(CLI::App& app, std::function<int()>& selected);

}  // namespace wgnet::cli
