// The listener of both servers (a unix socket, or TCP): accepting connections up to the caps (in
// all, per client), making room by closing the longest silent one, tracking them for shutdown,
// running the loop.
#include "http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <cstring>
#include <optional>
#include <sstream>
#include <vector>

#include "http/client_id.h"
#include "http/session.h"
#include "http/socket_file.h"
#include "util/error.h"
#include "util/log.h"
#include "util/throttle.h"

namespace wgnet::http {
namespace asio = boost::asio;
using Protocol = asio::generic::stream_protocol;
using Acceptor = asio::basic_socket_acceptor<Protocol>;  // the generic protocol names none

namespace {

// The whole reply a connection over a cap gets, serialized once.
std::string refusal_text(const ErrorReply& error_reply, const std::string& message) {
  std::ostringstream text;
  text << to_wire(error_reply(503, message), false);
  return text.str();
}

}  // namespace

namespace detail {

// Connections refused for one reason: the reply they get and the warning that counts them.
struct Refusal {
  Refusal(const ErrorReply& error_reply, const std::string& message, std::string why)
      : reply(refusal_text(error_reply, message)), reason(std::move(why)) {}
  const std::string reply;
  const std::string reason;                     // for the log line
  Throttle warnings{std::chrono::seconds(10)};  // io thread only
};

// An open connection and whom it is from.
struct Connection {
  std::weak_ptr<Session> session;
  std::string client;  // client_id(), when there is a per-client cap
};

struct Listener {
  // `path` is the socket file of a unix listener, empty for TCP (see listen_tcp).
  Listener(std::string socket_path, Handler handler_fn, const ServerOptions& options);
  void listen_unix();
  void listen_tcp(const std::string& address, uint16_t port);
  void accept();
  void admit(Protocol::socket socket);
  std::size_t connections_of(const std::string& client) const;
  bool evict_longest_waiting();
  void refuse(Protocol::socket socket, Refusal& refusal, const std::string& client);
  void shutdown();
  void run();
  void stop();

  const std::string path;
  const std::size_t max_connections;
  const std::size_t max_per_client;  // 0: no cap
  std::string where;                 // for log lines: the path, or address:port
  // Members are destroyed in reverse order: the lanes are joined first, while everything a
  // running handler touches still exists, and the io_context goes last, taking with it the
  // pending operations that keep sessions alive.
  asio::io_context io;
  Acceptor acceptor{io};
  std::optional<SocketFile> socket_file;
  asio::steady_timer accept_retry{io};
  std::vector<Connection> connections;  // open ones, to count and close; io thread only
  Refusal full;                         // every connection has a request in progress
  Refusal client_full;                  // the client has its most
  Throttle eviction_warnings{std::chrono::seconds(10)};  // io thread only
  SessionShared shared;
};

Listener::Listener(std::string socket_path, Handler handler_fn, const ServerOptions& options)
    : path(std::move(socket_path)),
      max_connections(std::max<std::size_t>(options.max_connections, 1)),
      max_per_client(options.max_connections_per_client),
      where(path),
      full(options.error_reply,
           "too many connections: " + std::to_string(max_connections) +
               " are open already, the most this server takes; try again later",
           std::to_string(max_connections) + " open already, each with a call in progress"),
      client_full(options.error_reply,
                  "too many connections from one client: " + std::to_string(max_per_client) +
                      " of yours are open already, the most one client may have; close one or "
                      "try again later",
                  "a client had " + std::to_string(max_per_client) +
                      " open already, the most one may have"),
      shared(std::move(handler_fn), options) {}

void Listener::listen_unix() {
  claim_socket_path(path);
  boost::system::error_code ec;
  Protocol::endpoint endpoint{asio::local::stream_protocol::endpoint(path)};
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (ec) throw SystemError("cannot bind " + path + ": " + ec.message());
  socket_file.emplace(path);
  // Between bind and listen nobody can connect, so the socket is never reachable with the
  // umask's looser mode.
  if (::chmod(path.c_str(), 0600) != 0)
    throw SystemError("cannot chmod 0600 " + path + ": " + std::strerror(errno));
  acceptor.listen(Acceptor::max_listen_connections, ec);
  if (ec) throw SystemError("cannot listen on " + path + ": " + ec.message());
  accept();
}

void Listener::listen_tcp(const std::string& address, uint16_t port) {
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(address, ec);
  if (ec) throw SystemError("cannot listen on '" + address + "': not a numeric IP address");
  asio::ip::tcp::endpoint tcp_endpoint(ip, port);
  where = (ip.is_v6() ? "[" + ip.to_string() + "]" : ip.to_string()) + ":" + std::to_string(port);
  Protocol::endpoint endpoint{tcp_endpoint};
  acceptor.open(endpoint.protocol(), ec);
  // A restarted daemon must get its port back while connections of the old one linger.
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(Acceptor::max_listen_connections, ec);
  if (ec) throw SystemError("cannot listen on " + where + ": " + ec.message());
  accept();
}

void Listener::accept() {
  acceptor.async_accept([this](boost::system::error_code ec, Protocol::socket socket) {
    if (!acceptor.is_open()) return;  // stopped
    if (ec) {
      // Out of descriptors and the like: retrying at once would spin, so wait a moment.
      log::warn("accepting on " + where + " failed: " + ec.message() + "; retrying");
      accept_retry.expires_after(std::chrono::milliseconds(100));
      accept_retry.async_wait([this](boost::system::error_code wait_ec) {
        if (!wait_ec) accept();
      });
      return;
    }
    admit(std::move(socket));
    accept();
  });
}

void Listener::admit(Protocol::socket socket) {
  // A session a stuck handler still holds is no longer a connection.
  std::erase_if(connections, [](const Connection& c) {
    const auto session = c.session.lock();
    return !session || !session->is_open();
  });
  std::string client = max_per_client ? client_id(socket) : "";
  // Before making room: a client at its cap must not close other clients' connections.
  if (max_per_client && connections_of(client) >= max_per_client)
    return refuse(std::move(socket), client_full, client);
  if (connections.size() >= max_connections && !evict_longest_waiting())
    return refuse(std::move(socket), full, client);
  auto session = std::make_shared<Session>(std::move(socket), shared);
  connections.push_back({session, std::move(client)});
  session->start();
}

std::size_t Listener::connections_of(const std::string& client) const {
  return static_cast<std::size_t>(std::ranges::count(connections, client, &Connection::client));
}

// Closes the connection that has waited longest for a request head. That one is the likeliest to
// be held open on purpose; a real caller sends its request as soon as it connects, and one with
// a request in progress is never chosen. False if every connection has a request in progress.
bool Listener::evict_longest_waiting() {
  auto longest = connections.end();
  std::optional<std::chrono::steady_clock::time_point> longest_since;
  for (auto c = connections.begin(); c != connections.end(); ++c) {
    const auto since = c->session.lock()->waiting_since();
    if (since && (!longest_since || *since < *longest_since)) {
      longest = c;
      longest_since = since;
    }
  }
  if (longest == connections.end()) return false;
  longest->session.lock()->close();
  connections.erase(longest);
  if (const auto evicted = eviction_warnings.note())
    log::warn("closed " + std::to_string(evicted) +
              " connection(s) waiting for a request, the longest waiting first, to make room: " +
              std::to_string(max_connections) + " open, the limit");
  return true;
}

// Answers without reading the request: reading is what a connection over a cap must not cost.
// The reply is small enough to fit the fresh socket's buffer, so the write never waits.
void Listener::refuse(Protocol::socket socket, Refusal& refusal, const std::string& client) {
  if (const auto refused = refusal.warnings.note())
    log::warn("refused " + std::to_string(refused) + " connection(s) with HTTP 503: " +
              refusal.reason + (client.empty() ? "" : " (the latest from " + client + ")"));
  auto connection = std::make_shared<Protocol::socket>(std::move(socket));
  asio::async_write(*connection, asio::buffer(refusal.reply),
                    [connection](boost::system::error_code, std::size_t) {
                      boost::system::error_code ignored;
                      connection->shutdown(Protocol::socket::shutdown_both, ignored);
                      connection->close(ignored);
                    });
}

void Listener::shutdown() {
  boost::system::error_code ignored;
  acceptor.close(ignored);
  accept_retry.cancel();
  if (socket_file) socket_file->remove();
  for (const auto& c : connections)
    if (auto session = c.session.lock()) session->close();
  connections.clear();
  // Handlers still running keep their sessions alive without any pending I/O; stopping the
  // loop outright ends run() without waiting for them here.
  io.stop();
}

void Listener::run() {
  io.run();
  // Dropping the queued handler calls and waiting for the running ones means that, once run()
  // returns, the caller may tear down whatever the handler uses.
  shared.cheap_lane.stop();
  shared.slow_lane.stop();
  if (const auto running = shared.cheap_lane.running() + shared.slow_lane.running())
    log::info("waiting for " + std::to_string(running) + " running handler(s) to return");
  shared.cheap_lane.join();
  shared.slow_lane.join();
}

void Listener::stop() {
  asio::post(io, [this] { shutdown(); });
}

}  // namespace detail

UnixServer::UnixServer(std::string socket_path, Handler handler, ServerOptions options)
    : impl_(
          std::make_unique<detail::Listener>(std::move(socket_path), std::move(handler), options)) {
  impl_->listen_unix();
}

UnixServer::~UnixServer() = default;
void UnixServer::run() { impl_->run(); }
void UnixServer::stop() { impl_->stop(); }
const std::string& UnixServer::path() const { return impl_->path; }

TcpServer::TcpServer(const std::string& address, uint16_t port, Handler handler,
                     ServerOptions options)
    : impl_(std::make_unique<detail::Listener>("", std::move(handler), options)) {
  impl_->listen_tcp(address, port);
}

TcpServer::~TcpServer() = default;
void TcpServer::run() { impl_->run(); }
void TcpServer::stop() { impl_->stop(); }

uint16_t TcpServer::port() const {
  boost::system::error_code ec;
  auto endpoint = impl_->acceptor.local_endpoint(ec);
  if (ec) return 0;
  // The generic endpoint holds a sockaddr_in or sockaddr_in6; the port sits at the same offset.
  const auto* in = reinterpret_cast<const sockaddr_in*>(endpoint.data());
  return ntohs(in->sin_port);
}

}  // namespace wgnet::http
