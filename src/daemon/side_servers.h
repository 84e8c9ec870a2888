// The bounds of wgnetd's servers that answer people and scrapers rather than Docker: the admin
// socket and the metrics listener.
#pragma once
#include "http/server.h"

namespace wgnet::daemon {

// Small, and short with idle clients: their callers (`wgnet status`, a Prometheus scrape) send
// one request as soon as they connect, so a client that holds connections open is cut off
// within seconds and cannot take more than a handful.
http::ServerOptions side_server_options();

}  // namespace wgnet::daemon
