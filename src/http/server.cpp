// The unix socket listener: accepting connections up to the cap, tracking them for shutdown,
// running the loop.
#include "http/server.h"

#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <cstring>
#include <optional>
#include <sstream>
#include <vector>

#include "http/session.h"
#include "http/socket_file.h"
#include "http/throttle.h"
#include "util/error.h"
#include "util/log.h"

namespace wgnet::http {
namespace asio = boost::asio;
using Protocol = asio::local::stream_protocol;

namespace {

// The whole reply a connection over the cap gets, serialized once.
std::string refusal_text(const ErrorReply& error_reply, std::size_t max_connections) {
  std::ostringstream text;
  text << to_wire(error_reply(503, "too many connections: " + std::to_string(max_connections) +
                                          " are open already, the most this server takes; "
                                          "try again later"),
                  false);
  return text.str();
}

}  // namespace

struct UnixServer::Impl {
  Impl(std::string socket_path, Handler handler_fn, const ServerOptions& options);
  void listen();
  void accept();
  void refuse(Protocol::socket socket);
  void shutdown();

  const std::string path;
  const std::size_t max_connections;
  const std::string refusal;
  // Members are destroyed in reverse order: the lanes are joined first, while everything a
  // running handler touches still exists, and the io_context goes last, taking with it the
  // pending operations that keep sessions alive.
  asio::io_context io;
  Protocol::acceptor acceptor{io};
  std::optional<SocketFile> socket_file;
  asio::steady_timer accept_retry{io};
  std::vector<std::weak_ptr<Session>> sessions;  // open ones, to count and close; io thread only
  Throttle refusal_warnings{std::chrono::seconds(10)};  // io thread only
  SessionShared shared;
};

UnixServer::Impl::Impl(std::string socket_path, Handler handler_fn, const ServerOptions& options)
    : path(std::move(socket_path)),
      max_connections(std::max<std::size_t>(options.max_connections, 1)),
      refusal(refusal_text(options.error_reply, max_connections)),
      shared(std::move(handler_fn), options) {
  listen();
  accept();
}

void UnixServer::Impl::listen() {
  claim_socket_path(path);
  boost::system::error_code ec;
  acceptor.open(Protocol(), ec);
  if (!ec) acceptor.bind(Protocol::endpoint(path), ec);
  if (ec) throw SystemError("cannot bind " + path + ": " + ec.message());
  socket_file.emplace(path);
  // Between bind and listen nobody can connect, so the socket is never reachable with the
  // umask's looser mode.
  if (::chmod(path.c_str(), 0600) != 0)
    throw SystemError("cannot chmod 0600 " + path + ": " + std::strerror(errno));
  acceptor.listen(Protocol::acceptor::max_listen_connections, ec);
  if (ec) throw SystemError("cannot listen on " + path + ": " + ec.message());
}

void UnixServer::Impl::accept() {
  acceptor.async_accept([this](boost::system::error_code ec, Protocol::socket socket) {
    if (!acceptor.is_open()) return;  // stopped
    if (ec) {
      // Out of descriptors and the like: retrying at once would spin, so wait a moment.
      log::warn("accepting on " + path + " failed: " + ec.message() + "; retrying");
      accept_retry.expires_after(std::chrono::milliseconds(100));
      accept_retry.async_wait([this](boost::system::error_code wait_ec) {
        if (!wait_ec) accept();
      });
      return;
    }
    // A session a stuck handler still holds is no longer a connection.
    std::erase_if(sessions, [](const auto& weak) {
      const auto session = weak.lock();
      return !session || !session->is_open();
    });
    if (sessions.size() >= max_connections) {
      refuse(std::move(socket));
    } else {
      auto session = std::make_shared<Session>(std::move(socket), shared);
      sessions.push_back(session);
      session->start();
    }
    accept();
  });
}

// Answers without reading the request: reading is what a connection over the cap must not cost.
// The reply is small enough to fit the fresh socket's buffer, so the write never waits.
void UnixServer::Impl::refuse(Protocol::socket socket) {
  if (const auto refused = refusal_warnings.note())
    log::warn("refused " + std::to_string(refused) + " connection(s) with HTTP 503: " +
              std::to_string(max_connections) + " open already, the limit");
  auto connection = std::make_shared<Protocol::socket>(std::move(socket));
  asio::async_write(*connection, asio::buffer(refusal),
                    [connection](boost::system::error_code, std::size_t) {
                      boost::system::error_code ignored;
                      connection->shutdown(Protocol::socket::shutdown_both, ignored);
                      connection->close(ignored);
                    });
}

void UnixServer::Impl::shutdown() {
  boost::system::error_code ignored;
  acceptor.close(ignored);
  accept_retry.cancel();
  if (socket_file) socket_file->remove();
  for (const auto& weak : sessions)
    if (auto session = weak.lock()) session->close();
  sessions.clear();
  // Handlers still running keep their sessions alive without any pending I/O; stopping the
  // loop outright ends run() without waiting for them here.
  io.stop();
}

UnixServer::UnixServer(std::string socket_path, Handler handler, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(socket_path), std::move(handler), options)) {}

UnixServer::~UnixServer() = default;

void UnixServer::run() {
  impl_->io.run();
  // Dropping the queued handler calls and waiting for the running ones means that, once run()
  // returns, the caller may tear down whatever the handler uses.
  auto& shared = impl_->shared;
  shared.cheap_lane.stop();
  shared.slow_lane.stop();
  if (const auto running = shared.cheap_lane.running() + shared.slow_lane.running())
    log::info("waiting for " + std::to_string(running) + " running handler(s) to return");
  shared.cheap_lane.join();
  shared.slow_lane.join();
}

void UnixServer::stop() {
  asio::post(impl_->io, [impl = impl_.get()] { impl->shutdown(); });
}

const std::string& UnixServer::path() const { return impl_->path; }

}  // namespace wgnet::http
