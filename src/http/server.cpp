// The unix socket listener: accepting connections, tracking them for shutdown, running the loop.
#include "http/server.h"

#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "http/session.h"
#include "http/socket_file.h"
#include "util/error.h"
#include "util/log.h"

namespace wgnet::http {
namespace asio = boost::asio;
using Protocol = asio::local::stream_protocol;

struct UnixServer::Impl {
  Impl(std::string socket_path, Handler handler_fn, const ServerOptions& options);
  void listen();
  void accept();
  void shutdown();

  const std::string path;
  const Handler handler;
  const SessionLimits limits;
  // Members are destroyed in reverse order: the workers are joined first, while
  // everything a running handler touches still exists, and the io_context goes last, taking
  // with it the pending operations that keep sessions alive.
  asio::io_context io;
  Protocol::acceptor acceptor{io};
  std::optional<SocketFile> socket_file;
  asio::steady_timer accept_retry{io};
  std::vector<std::weak_ptr<Session>> sessions;  // to close them on stop(); io thread only
  asio::thread_pool workers;
};

UnixServer::Impl::Impl(std::string socket_path, Handler handler_fn, const ServerOptions& options)
    : path(std::move(socket_path)),
      handler(std::move(handler_fn)),
      limits{options.body_limit, options.idle_timeout},
      workers(std::max(options.handler_threads, 1u)) {
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
    std::erase_if(sessions, [](const auto& s) { return s.expired(); });
    auto session = std::make_shared<Session>(std::move(socket), handler, workers, limits);
    sessions.push_back(session);
    session->start();
    accept();
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
  impl_->workers.stop();
  impl_->workers.join();
}

void UnixServer::stop() {
  asio::post(impl_->io, [impl = impl_.get()] { impl->shutdown(); });
}

const std::string& UnixServer::path() const { return impl_->path; }

}  // namespace wgnet::http
