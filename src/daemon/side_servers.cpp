// The admin socket's and the metrics listener's limits.
#include "daemon/side_servers.h"

#include <chrono>

namespace wgnet::daemon {

http::ServerOptions side_server_options() {
  http::ServerOptions o;
  o.handler_threads = 2;
  o.cheap_threads = 1;
  o.max_connections = 16;
  // A scraper or `wgnet status` needs one at a time; four leave room for a few at once.
  o.max_connections_per_client = 4;
  o.max_queued_calls = 16;
  o.body_limit = 64 * 1024;
  // Ample for a request sent on connecting and for taking a reply of a few hundred kilobytes;
  // a scraper's kept-alive connection closed between scrapes is simply opened again.
  o.idle_timeout = std::chrono::seconds(5);
  return o;
}

}  // namespace wgnet::daemon
