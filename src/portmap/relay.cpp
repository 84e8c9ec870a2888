// The port relay: listening sockets bound in the caller's (the host's) namespace, and one I/O
// thread that relays each TCP connection and UDP flow through a socket made inside the
// container's namespace.
//
// Threads. publish()/unpublish() run in the driver's threads, one at a time (Impl::mutex): they
// create, bind and listen synchronously, so every bind error reaches the caller, and then hand
// the sockets to the I/O thread and wait until it has taken them on (Impl::run_on_io), so that a
// port dropped by the call no longer answers when it returns. Every Asio object lives on the I/O
// thread; the driver's side keeps only listener ids (Impl::publications).
//
// Sockets inside the container. The I/O thread itself enters the container's namespace for the
// one socket() call and returns to its own at once (Loop::socket_in). A socket keeps the
// namespace it was created in for its whole life, and this thread creates no other socket
// (listeners come from publish(), accepted sockets from their listener), so the short visit
// changes nothing else. netns::run_in per connection would start and join a thread on the I/O
// thread for every connection; a thread parked in each container's namespace would cost a thread
// per container and a hand-off per connection. setns() on an open namespace file is one system
// call, cheaper than either. The namespace file is opened once by publish() (so a vanished
// sandbox is reported there) and held while the publication lasts.
#include "portmap/relay.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <functional>
#include <future>
#include <list>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>
#include <unordered_map>

#include "util/error.h"
#include "util/fd.h"
#include "util/log.h"
#include "util/throttle.h"

namespace wgnet::portmap {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

// Per direction of a TCP connection: what Go's io.Copy (Docker's own docker-proxy) uses. Two per
// connection, so a binding at its connection cap holds 64 MiB at most.
constexpr size_t kTcpBuffer = 32 * 1024;
// Datagrams read from one socket per wake-up before the other sockets get their turn.
constexpr int kBurst = 64;
constexpr auto kWarnInterval = std::chrono::seconds(10);
// After a failed accept (out of descriptors): retrying at once would spin.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

// The system's text, lower-cased to continue a sentence: "...: address already in use".
std::string errno_phrase(int error) {
  std::string text = errno_text(error);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

error_code errno_code(int error) { return error_code(error, boost::system::system_category()); }

asio::ip::address to_asio(const IpAddress& a) {
  if (a.is_v4()) {
    asio::ip::address_v4::bytes_type b{};
    std::copy(a.bytes().begin(), a.bytes().end(), b.begin());
    return asio::ip::address_v4(b);
  }
  asio::ip::address_v6::bytes_type b{};
  std::copy(a.bytes().begin(), a.bytes().end(), b.begin());
  return asio::ip::address_v6(b);
}

// An IPv4 client on a dual-stack listener shows as ::ffff:a.b.c.d: it still counts as IPv4.
bool is_ipv6_client(const asio::ip::address& a) { return a.is_v6() && !a.to_v6().is_v4_mapped(); }

// Connection ends that are part of normal life, not worth a warning.
bool is_ordinary_end(const error_code& ec) {
  return ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::eof;
}

// Where a listener's traffic goes.
struct Route {
  std::shared_ptr<const Fd> netns;  // the container's network namespace, open
  Target target;
  uint16_t container_port = 0;
  std::string name;  // describe() of the binding with the host port in use, for log lines

  bool same_destination(const Route& o) const {
    return target == o.target && container_port == o.container_port;
  }
  // IPv6 when the client came over IPv6 and the container has an IPv6 address, else IPv4, else
  // IPv6 (a container with one family only gets everything in it).
  IpAddress destination(bool ipv6_client) const {
    if (ipv6_client && target.ipv6) return *target.ipv6;
    return target.ipv4 ? *target.ipv4 : *target.ipv6;
  }
  std::string where(const IpAddress& a) const {
    return (a.is_v6() ? "[" + a.str() + "]" : a.str()) + ":" + std::to_string(container_port) +
           " in " + target.sandbox;
  }
};

// What every object on the I/O thread shares; lives as long as the relay.
struct Loop {
  explicit Loop(const RelayOptions& o) : options(o) {
    options.max_tcp_connections = std::max<size_t>(options.max_tcp_connections, 1);
    options.max_udp_flows = std::max<size_t>(options.max_udp_flows, 1);
    options.max_relayed = std::max<size_t>(options.max_relayed, 1);
    options.udp_idle_timeout =
        std::max<Clock::duration>(options.udp_idle_timeout, std::chrono::milliseconds(1));
    // The namespace the I/O thread starts in (it inherits the constructing thread's) and returns
    // to after each visit to a container.
    home_netns.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!home_netns)
      throw SystemError("port relay: cannot open its own network namespace: " +
                        errno_phrase(errno));
  }

  // A non-blocking socket of `family` and `type` created inside `netns`. I/O thread only.
  Fd socket_in(const Fd& netns, int family, int type, error_code& ec) {
    if (::setns(netns.get(), CLONE_NEWNET) != 0) {
      ec = errno_code(errno);
      return Fd();
    }
    Fd socket(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const int socket_error = errno;
    if (::setns(home_netns.get(), CLONE_NEWNET) != 0)
      log::error(
          "port relay: cannot return to the host's network namespace: " + errno_phrase(errno) +
          " (harmless for the relay, which creates sockets only in "
          "containers' namespaces; it tries again with the next socket)");
    if (!socket) ec = errno_code(socket_error);
    return socket;
  }

  // A place for one more relayed connection or flow, held by it until it is destroyed (its
  // descriptors closed); null when the relay holds options.max_relayed already. I/O thread only.
  std::shared_ptr<Loop> take_slot() {
    if (relayed >= options.max_relayed) return nullptr;
    relayed++;
    return std::shared_ptr<Loop>(this, [](Loop* loop) { loop->relayed--; });
  }

  // Before io: the connections and flows its handlers still hold give their slots back as io
  // is destroyed.
  size_t relayed = 0;  // connections and flows of every binding (take_slot)
  asio::io_context io;
  Fd home_netns;
  RelayOptions options;
  // Every datagram passes through this one buffer: the I/O thread reads one and sends it on
  // before it reads the next. 65535 bytes is more than any UDP payload.
  std::array<uint8_t, 65536> datagram{};
};

// One published host port (one binding), on the I/O thread.
class Listener {
 public:
  Listener(Loop& loop, Route route) : loop_(loop), route_(std::move(route)) {}
  virtual ~Listener() = default;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  virtual void start() = 0;
  // A publish() that keeps this port: connections and flows to another destination are closed.
  virtual void set_route(Route route) = 0;
  // Closes the port and every connection or flow through it.
  virtual void close() = 0;

  const std::string& name() const { return route_.name; }

  // Logs, unless this port logged a warning within the last interval; the next one that is
  // logged counts those held back.
  void warn(const std::string& message) {
    if (const size_t n = warnings_.note())
      log::warn(n == 1 ? message
                       : message + " (and " + std::to_string(n - 1) + " more problem(s) on " +
                             route_.name + " since the last warning)");
  }

 protected:
  Loop& loop_;
  Route route_;

 private:
  Throttle warnings_{kWarnInterval};
};

class TcpListener;

// One relayed TCP connection: the client's socket (accepted on the host) and the upstream one
// (made in the container), with a bounded buffer per direction.
class TcpConnection : public std::enable_shared_from_this<TcpConnection> {
 public:
  TcpConnection(std::weak_ptr<TcpListener> owner, tcp::socket client)
      : owner_(std::move(owner)), client_(std::move(client)), upstream_(client_.get_executor()) {}
  ~TcpConnection();

  std::shared_ptr<Loop> slot;  // its place among the relay's connections and flows
  void start(Fd upstream, const tcp::endpoint& destination, std::string where);
  void close();

 private:
  enum Direction { kToContainer = 0, kToClient = 1 };
  tcp::socket& source(Direction d) { return d == kToContainer ? client_ : upstream_; }
  tcp::socket& sink(Direction d) { return d == kToContainer ? upstream_ : client_; }
  void read(Direction d);
  void on_read(Direction d, const error_code& ec, size_t n);
  void fail(const std::string& what, const error_code& ec);

  std::weak_ptr<TcpListener> owner_;
  tcp::socket client_;
  tcp::socket upstream_;
  std::string where_;  // the upstream address and namespace, for log lines
  std::array<std::array<char, kTcpBuffer>, 2> buffers_;
  std::array<bool, 2> done_{};  // the direction saw end of file and passed it on
  bool closed_ = false;
};

class TcpListener final : public Listener, public std::enable_shared_from_this<TcpListener> {
 public:
  TcpListener(Loop& loop, tcp::acceptor acceptor, Route route)
      : Listener(loop, std::move(route)), acceptor_(std::move(acceptor)), retry_(loop.io) {}

  void start() override { accept(); }
  void set_route(Route route) override {
    if (!route_.same_destination(route)) close_connections();
    route_ = std::move(route);
  }
  void close() override {
    error_code ignored;
    acceptor_.close(ignored);
    retry_.cancel();
    close_connections();
  }
  void forget(TcpConnection* connection) { connections_.erase(connection); }

 private:
  void accept() {
    acceptor_.async_accept([self = shared_from_this()](const error_code& ec, tcp::socket client) {
      self->on_accept(ec, std::move(client));
    });
  }

  void on_accept(const error_code& ec, tcp::socket client) {
    if (!acceptor_.is_open()) return;  // closed
    if (ec) {
      warn("port relay: accepting on " + route_.name + " failed: " + ec.message() + "; retrying");
      retry_.expires_after(kAcceptRetry);
      retry_.async_wait([self = shared_from_this()](const error_code& wait_ec) {
        if (!wait_ec && self->acceptor_.is_open()) self->accept();
      });
      return;
    }
    auto slot =
        connections_.size() < loop_.options.max_tcp_connections ? loop_.take_slot() : nullptr;
    if (!slot) {
      if (const size_t n = refusals_.note())
        log::warn("port relay: closed " + std::to_string(n) + " connection(s) to " + route_.name +
                  " at once: " + std::to_string(loop_.options.max_tcp_connections) +
                  " are open to it already, the most one published port relays, or the relay "
                  "holds " +
                  std::to_string(loop_.options.max_relayed) + " in all");
      error_code ignored;
      client.close(ignored);
    } else {
      relay(std::move(client), std::move(slot));
    }
    accept();
  }

  void relay(tcp::socket client, std::shared_ptr<Loop> slot) {
    error_code ec;
    const auto local = client.local_endpoint(ec);
    if (ec) return;  // the client is gone already
    const IpAddress to = route_.destination(is_ipv6_client(local.address()));
    const tcp::endpoint destination(to_asio(to), route_.container_port);
    Fd upstream = loop_.socket_in(*route_.netns, to.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM, ec);
    if (ec) {
      warn("port relay: cannot relay a connection to " + route_.name +
           ": cannot open a socket in " + route_.target.sandbox + ": " + ec.message());
      return;
    }
    auto connection = std::make_shared<TcpConnection>(weak_from_this(), std::move(client));
    connection->slot = std::move(slot);
    connections_.emplace(connection.get(), connection);
    connection->start(std::move(upstream), destination, route_.where(to));
  }

  void close_connections() {
    // close() forgets each connection here; the map is moved out first so that is harmless.
    auto connections = std::move(connections_);
    connections_.clear();
    for (const auto& [raw, weak] : connections)
      if (const auto connection = weak.lock()) connection->close();
  }

  tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  // Open connections, to count and to close; each keeps itself alive through its pending I/O.
  std::unordered_map<TcpConnection*, std::weak_ptr<TcpConnection>> connections_;
  Throttle refusals_{kWarnInterval};
};

TcpConnection::~TcpConnection() {
  if (const auto owner = owner_.lock()) owner->forget(this);
}

void TcpConnection::start(Fd upstream, const tcp::endpoint& destination, std::string where) {
  where_ = std::move(where);
  error_code ec;
  upstream_.assign(destination.protocol(), upstream.get(), ec);
  if (ec) return fail("cannot relay to " + where_, ec);
  upstream.release();  // upstream_ owns it now
  // Nagle's delay belongs to the endpoints: a relay that adds its own slows interactive traffic.
  client_.set_option(tcp::no_delay(true), ec);
  upstream_.set_option(tcp::no_delay(true), ec);
  upstream_.async_connect(destination, [self = shared_from_this()](const error_code& connect_ec) {
    if (self->closed_) return;
    if (connect_ec) {
      // The container refuses (or cannot be reached): the client learns it at once, by a
      // reset, as if the port had refused it.
      error_code ignored;
      self->client_.set_option(asio::socket_base::linger(true, 0), ignored);
      return self->fail("cannot connect to " + self->where_, connect_ec);
    }
    self->read(kToContainer);
    self->read(kToClient);
  });
}

void TcpConnection::read(Direction d) {
  source(d).async_read_some(
      asio::buffer(buffers_[d]),
      [self = shared_from_this(), d](const error_code& ec, size_t n) { self->on_read(d, ec, n); });
}

void TcpConnection::on_read(Direction d, const error_code& ec, size_t n) {
  if (closed_) return;
  if (ec == asio::error::eof) {
    // Half-close: the other side gets end of file too and may still answer.
    error_code ignored;
    sink(d).shutdown(tcp::socket::shutdown_send, ignored);
    done_[d] = true;
    if (done_[kToContainer] && done_[kToClient]) close();
    return;
  }
  if (ec) return fail(d == kToContainer ? "reading from the client" : "reading from " + where_, ec);
  asio::async_write(
      sink(d), asio::buffer(buffers_[d].data(), n),
      [self = shared_from_this(), d](const error_code& write_ec, size_t) {
        if (self->closed_) return;
        if (write_ec)
          return self->fail(
              d == kToContainer ? "writing to " + self->where_ : "writing to the client", write_ec);
        self->read(d);
      });
}

void TcpConnection::fail(const std::string& what, const error_code& ec) {
  if (!is_ordinary_end(ec) && ec != asio::error::operation_aborted) {
    if (const auto owner = owner_.lock())
      owner->warn("port relay: " + owner->name() + ": " + what + ": " + ec.message() +
                  "; connection closed");
  }
  close();
}

void TcpConnection::close() {
  if (closed_) return;
  closed_ = true;
  error_code ignored;
  client_.close(ignored);
  upstream_.close(ignored);
  if (const auto owner = owner_.lock()) owner->forget(this);
}

// One published UDP port: a flow per client address, each with its own connected socket in the
// container, so the container's replies come back to the right client.
class UdpListener final : public Listener, public std::enable_shared_from_this<UdpListener> {
 public:
  UdpListener(Loop& loop, udp::socket socket, Route route)
      : Listener(loop, std::move(route)), socket_(std::move(socket)), sweep_(loop.io) {}

  void start() override {
    error_code ignored;
    socket_.non_blocking(true, ignored);  // reads and sends return would_block, never wait
    wait_for_datagrams();
  }
  void set_route(Route route) override {
    if (!route_.same_destination(route)) close_flows();
    route_ = std::move(route);
  }
  void close() override {
    error_code ignored;
    socket_.close(ignored);
    sweep_.cancel();
    close_flows();
  }

 private:
  struct Flow {
    Flow(asio::io_context& io, udp::endpoint c) : client(std::move(c)), upstream(io) {}
    udp::endpoint client;
    udp::socket upstream;        // in the container, connected to its address and port
    std::shared_ptr<Loop> slot;  // its place among the relay's connections and flows
    Clock::time_point last_active;
    std::list<std::shared_ptr<Flow>>::iterator position;  // in flows_
  };
  using FlowPtr = std::shared_ptr<Flow>;

  void wait_for_datagrams() {
    socket_.async_wait(udp::socket::wait_read, [self = shared_from_this()](const error_code& ec) {
      if (!ec && self->socket_.is_open()) self->on_datagrams();
    });
  }

  void on_datagrams() {
    for (int i = 0; i < kBurst; i++) {
      udp::endpoint client;
      error_code ec;
      const size_t n = socket_.receive_from(asio::buffer(loop_.datagram), client, 0, ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec) {
        warn("port relay: receiving on " + route_.name + " failed: " + ec.message());
        break;
      }
      const FlowPtr flow = find_or_open(client);
      if (!flow) continue;  // dropped, and warned
      touch(*flow);
      flow->upstream.send(asio::buffer(loop_.datagram.data(), n), 0, ec);
      // A full buffer drops the datagram, as the network would; a refusal is the container
      // reporting an earlier datagram to a closed port, and the next may find it open.
      if (ec && ec != asio::error::would_block && ec != asio::error::try_again &&
          ec != asio::error::connection_refused)
        warn("port relay: " + route_.name + ": sending to the container failed: " + ec.message() +
             "; datagram dropped");
    }
    wait_for_datagrams();
  }

  FlowPtr find_or_open(const udp::endpoint& client) {
    if (const auto found = by_client_.find(client); found != by_client_.end()) return found->second;
    if (by_client_.size() >= loop_.options.max_udp_flows) {
      log::debug("port relay: " + route_.name + ": " + std::to_string(loop_.options.max_udp_flows) +
                 " flows open, the most per published port: forgetting the least recent one");
      close_flow(flows_.back());
    }
    auto slot = loop_.take_slot();
    if (!slot && !flows_.empty()) {  // the relay is full: this port's least recent flow makes room
      close_flow(flows_.back());
      slot = loop_.take_slot();
    }
    if (!slot) {
      warn("port relay: " + route_.name + ": the relay holds " +
           std::to_string(loop_.options.max_relayed) + " connections and flows; datagram dropped");
      return nullptr;
    }
    const IpAddress to = route_.destination(is_ipv6_client(client.address()));
    const udp::endpoint destination(to_asio(to), route_.container_port);
    error_code ec;
    Fd fd = loop_.socket_in(*route_.netns, to.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM, ec);
    if (ec) {
      warn("port relay: " + route_.name + ": cannot open a socket in " + route_.target.sandbox +
           ": " + ec.message() + "; datagram dropped");
      return nullptr;
    }
    auto flow = std::make_shared<Flow>(loop_.io, client);
    flow->slot = std::move(slot);
    flow->upstream.assign(destination.protocol(), fd.get(), ec);
    if (!ec) {
      fd.release();  // flow->upstream owns it now
      flow->upstream.non_blocking(true, ec);
    }
    // A UDP connect only records the peer: it never waits.
    if (!ec) flow->upstream.connect(destination, ec);
    if (ec) {
      warn("port relay: " + route_.name + ": cannot reach " + route_.where(to) + ": " +
           ec.message() + "; datagram dropped");
      return nullptr;
    }
    flows_.push_front(flow);
    flow->position = flows_.begin();
    by_client_.emplace(client, flow);
    wait_for_replies(flow);
    schedule_sweep();
    return flow;
  }

  void wait_for_replies(const FlowPtr& flow) {
    flow->upstream.async_wait(udp::socket::wait_read,
                              [self = shared_from_this(), flow](const error_code& ec) {
                                if (!ec && flow->upstream.is_open()) self->on_replies(flow);
                              });
  }

  void on_replies(const FlowPtr& flow) {
    for (int i = 0; i < kBurst; i++) {
      error_code ec;
      const size_t n = flow->upstream.receive(asio::buffer(loop_.datagram), 0, ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec == asio::error::connection_refused) continue;  // nothing listens there (yet)
      if (ec) {
        warn("port relay: " + route_.name +
             ": receiving from the container failed: " + ec.message() + "; flow closed");
        return close_flow(flow);
      }
      touch(*flow);
      socket_.send_to(asio::buffer(loop_.datagram.data(), n), flow->client, 0, ec);
      if (ec && ec != asio::error::would_block && ec != asio::error::try_again)
        warn("port relay: " + route_.name + ": sending to a client failed: " + ec.message() +
             "; datagram dropped");
    }
    wait_for_replies(flow);
  }

  void touch(Flow& flow) {
    flow.last_active = Clock::now();
    flows_.splice(flows_.begin(), flows_, flow.position);
  }

  // Takes the flow by value: the list's pointer, which it erases, may be the argument.
  void close_flow(FlowPtr flow) {
    error_code ignored;
    flow->upstream.close(ignored);  // its pending wait ends, aborted, and drops the last pointer
    by_client_.erase(flow->client);
    flows_.erase(flow->position);
  }

  void close_flows() {
    while (!flows_.empty()) close_flow(flows_.back());
  }

  // One timer per port, armed while it has flows: a quarter of the idle timeout, so a flow goes
  // between 1 and 1.25 timeouts after its last datagram.
  void schedule_sweep() {
    if (sweeping_ || flows_.empty() || !socket_.is_open()) return;
    sweeping_ = true;
    sweep_.expires_after(std::max<Clock::duration>(loop_.options.udp_idle_timeout / 4,
                                                   std::chrono::milliseconds(1)));
    sweep_.async_wait([self = shared_from_this()](const error_code& ec) {
      self->sweeping_ = false;
      if (ec || !self->socket_.is_open()) return;
      self->expire_idle_flows();
      self->schedule_sweep();
    });
  }

  void expire_idle_flows() {
    const auto now = Clock::now();
    while (!flows_.empty() && now - flows_.back()->last_active >= loop_.options.udp_idle_timeout)
      close_flow(flows_.back());
  }

  udp::socket socket_;
  asio::steady_timer sweep_;
  bool sweeping_ = false;
  std::list<FlowPtr> flows_;  // the most recently active first
  std::map<udp::endpoint, FlowPtr> by_client_;
};

// A bound (and, for TCP, listening) socket made by publish(), on its way to the I/O thread.
struct Bound {
  Fd fd;
  Proto proto = Proto::kTcp;
  int family = 0;
  uint16_t port = 0;
};

// Opens, binds and (TCP) listens on `address` (4 or 16 bytes) and `port`, in the caller's
// namespace. Returns the socket, or the errno of the step that failed.
std::pair<Fd, int> open_port(Proto proto, int family, const uint8_t* address, bool v6_only,
                             uint16_t port) {
  const bool is_tcp = proto == Proto::kTcp;
  Fd s(::socket(family, (is_tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s) return {Fd(), errno};
  const int one = 1;
  const int v6_only_value = v6_only ? 1 : 0;
  if (family == AF_INET6 &&
      ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6_only_value, sizeof v6_only_value) != 0)
    return {Fd(), errno};
  // A port whose last connections linger in TIME_WAIT can be published again at once. (Not for
  // UDP, where it would let two sockets share the port.)
  if (is_tcp && ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
    return {Fd(), errno};
  int rc = 0;
  if (family == AF_INET) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    std::memcpy(&sin.sin_addr, address, 4);
    rc = ::bind(s.get(), reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
  } else {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    std::memcpy(&sin6.sin6_addr, address, 16);
    rc = ::bind(s.get(), reinterpret_cast<const sockaddr*>(&sin6), sizeof sin6);
  }
  if (rc != 0 || (is_tcp && ::listen(s.get(), SOMAXCONN) != 0)) return {Fd(), errno};
  return {std::move(s), 0};
}

// The binding's address on `port`: its host address, or every address (IPv6 and IPv4 on one
// dual-stack socket, IPv4 alone on a host without IPv6). An explicit IPv6 address is IPv6 only:
// Docker's -p [::]:80:80 beside -p 0.0.0.0:80:80 are two sockets.
std::pair<Bound, int> open_binding(const Binding& b, uint16_t port) {
  static constexpr std::array<uint8_t, 16> kAny{};
  if (b.host_ip) {
    const int family = b.host_ip->is_v4() ? AF_INET : AF_INET6;
    auto [fd, error] = open_port(b.proto, family, b.host_ip->bytes().data(), true, port);
    return {Bound{std::move(fd), b.proto, family, port}, error};
  }
  auto [fd, error] = open_port(b.proto, AF_INET6, kAny.data(), false, port);
  if (error != EAFNOSUPPORT && error != EADDRNOTAVAIL)
    return {Bound{std::move(fd), b.proto, AF_INET6, port}, error};
  auto [fd4, error4] = open_port(b.proto, AF_INET, kAny.data(), false, port);
  return {Bound{std::move(fd4), b.proto, AF_INET, port}, error4};
}

std::string bind_error_text(const Binding& b, int error, bool whole_range) {
  switch (error) {
    case EADDRINUSE:
      return whole_range ? "every port of the range is in use: choose another range"
                         : "address already in use (another container or program has it): "
                           "choose another host port";
    case EADDRNOTAVAIL:
      return "address not available: " + (b.host_ip ? b.host_ip->str() : std::string("*")) +
             " is not an address of this host; give one it has, or none for every address";
    case EACCES:
      return "permission denied (ports below net.ipv4.ip_unprivileged_port_start need "
             "CAP_NET_BIND_SERVICE)";
    default:
      return errno_phrase(error);
  }
}

// The first port of the binding's range that can be bound; throws InputError naming the binding.
Bound bind_binding(const Binding& b) {
  for (uint32_t port = b.host_port; port <= b.host_port_end; port++) {
    auto [bound, error] = open_binding(b, static_cast<uint16_t>(port));
    if (error == 0) return std::move(bound);
    if (error == EADDRINUSE && port < b.host_port_end) continue;
    throw InputError("cannot publish " + describe(b) + ": " +
                     bind_error_text(b, error, b.host_port_end > b.host_port));
  }
  throw InputError("cannot publish " + describe(b) + ": no port in the range");  // unreachable
}

// On the I/O thread: the Asio object for a socket publish() made.
std::shared_ptr<Listener> make_listener(Loop& loop, Bound& bound, const Route& route) {
  error_code ec;
  if (bound.proto == Proto::kTcp) {
    tcp::acceptor acceptor(loop.io);
    acceptor.assign(bound.family == AF_INET ? tcp::v4() : tcp::v6(), bound.fd.get(), ec);
    if (!ec) {
      bound.fd.release();  // the acceptor owns it now
      return std::make_shared<TcpListener>(loop, std::move(acceptor), route);
    }
  } else {
    udp::socket socket(loop.io);
    socket.assign(bound.family == AF_INET ? udp::v4() : udp::v6(), bound.fd.get(), ec);
    if (!ec) {
      bound.fd.release();
      return std::make_shared<UdpListener>(loop, std::move(socket), route);
    }
  }
  throw SystemError("cannot publish " + route.name + ": " + ec.message());
}

std::shared_ptr<const Fd> open_netns(const std::string& path) {
  if (path.empty())
    throw InputError("cannot publish ports: the container has no network namespace (no sandbox)");
  // O_NONBLOCK: a FIFO in its place must not hang the driver.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd)
    throw InputError("cannot publish ports into the network namespace " + path + ": " +
                     errno_phrase(errno));
  if (::ioctl(fd.get(), NS_GET_NSTYPE) != CLONE_NEWNET)
    throw InputError("cannot publish ports into " + path +
                     ": it is not a network namespace (has the container stopped?)");
  return std::make_shared<const Fd>(std::move(fd));
}

void check_target(const Target& t) {
  if (t.ipv4 && !t.ipv4->is_v4())
    throw InputError("cannot publish ports to " + t.ipv4->str() + ": not an IPv4 address");
  if (t.ipv6 && !t.ipv6->is_v6())
    throw InputError("cannot publish ports to " + t.ipv6->str() + ": not an IPv6 address");
  if (!t.ipv4 && !t.ipv6)
    throw InputError("cannot publish ports: the container has no IP address to relay them to");
}

}  // namespace

struct Relay::Impl {
  explicit Impl(const RelayOptions& options);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void publish(const std::string& key, const Target& target, std::vector<Binding> bindings);
  void unpublish(const std::string& key);

 private:
  // One listening socket of a publication, as the driver's side knows it.
  struct Held {
    Proto proto;
    std::optional<IpAddress> host_ip;
    uint16_t port;
    uint64_t id;  // in `listeners`
  };
  struct Publication {
    Target target;
    std::vector<Binding> bindings;  // sorted, without duplicates
    std::vector<Held> held;
  };
  // What a publish() asks of the I/O thread for one binding: a new socket, or a new route for a
  // port the key holds already.
  struct Change {
    uint64_t id;
    std::optional<Bound> bound;
    Route route;
  };

  // publish() with `mutex_` held and the bindings sorted: keeps the ports the key holds, binds
  // the others, all or nothing.
  void publish_locked(const std::string& key, const Target& target, std::vector<Binding> bindings);
  // Whether the key holds a port of `bindings` under another host address (every address becoming
  // 0.0.0.0, as Docker 29 asks when a dual-stack gateway becomes IPv4-only): the kernel refuses
  // the new address while the old one is bound, so the old set must go first.
  static bool holds_under_other_address(const Publication& old,
                                        const std::vector<Binding>& bindings);
  void unpublish_locked(const std::string& key);
  // Runs `fn` on the I/O thread and waits for it; its exception is rethrown here.
  void run_on_io(const std::function<void()>& fn);
  void apply(std::vector<Change>& changes, const std::vector<uint64_t>& dropped);
  void close_listeners(const std::vector<uint64_t>& ids);

  Loop loop_;  // first: destroyed last, after everything that uses its io_context
  std::map<uint64_t, std::shared_ptr<Listener>> listeners_;  // I/O thread only
  std::mutex mutex_;  // one publish() or unpublish() at a time; guards what follows
  std::map<std::string, Publication> publications_;
  uint64_t next_id_ = 1;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

Relay::Impl::Impl(const RelayOptions& options)
    : loop_(options), work_(asio::make_work_guard(loop_.io)) {
  thread_ = std::thread([this] {
    // Handlers report their errors themselves; this only keeps the relay alive should one throw
    // anyway (std::bad_alloc): run() may be called again after a handler's exception.
    for (;;) {
      try {
        loop_.io.run();
        return;
      } catch (const std::exception& e) {
        log::error(std::string("port relay: ") + e.what() + "; carrying on");
      }
    }
  });
}

Relay::Impl::~Impl() {
  asio::post(loop_.io, [this] {
    for (const auto& [id, listener] : listeners_) listener->close();
    listeners_.clear();
  });
  // Once everything is closed, the handlers still pending end (aborted) and run() returns.
  work_.reset();
  thread_.join();
}

void Relay::Impl::run_on_io(const std::function<void()>& fn) {
  // Shared: the I/O thread may still be inside set_value() when this thread wakes and returns.
  auto done = std::make_shared<std::promise<void>>();
  auto result = done->get_future();
  asio::post(loop_.io, [done, &fn] {
    try {
      fn();
      done->set_value();
    } catch (...) {
      done->set_exception(std::current_exception());
    }
  });
  result.get();
}

void Relay::Impl::publish(const std::string& key, const Target& target,
                          std::vector<Binding> bindings) {
  // Nothing to publish (Docker programs connectivity also for a container without -p): as
  // unpublish(), and no target needed.
  if (bindings.empty()) return unpublish(key);
  for (const auto& b : bindings) validate(b);
  check_target(target);
  std::sort(bindings.begin(), bindings.end());
  bindings.erase(std::unique(bindings.begin(), bindings.end()), bindings.end());

  std::lock_guard lock(mutex_);
  try {
    publish_locked(key, target, bindings);
  } catch (const InputError&) {
    const auto found = publications_.find(key);
    if (found == publications_.end() || !holds_under_other_address(found->second, bindings)) throw;
    // Free the key's own ports, then bind the new set; put the old one back if that fails too.
    const Publication saved = found->second;
    unpublish_locked(key);
    try {
      publish_locked(key, target, bindings);
    } catch (...) {
      try {
        publish_locked(key, saved.target, saved.bindings);
      } catch (const std::exception& e) {
        log::warn("port relay: " + key +
                  ": the previous ports cannot be published again: " + e.what());
      }
      throw;
    }
  }
}

bool Relay::Impl::holds_under_other_address(const Publication& old,
                                            const std::vector<Binding>& bindings) {
  for (const Held& h : old.held)
    for (const Binding& b : bindings)
      if (h.proto == b.proto && h.host_ip != b.host_ip && h.port >= b.host_port &&
          h.port <= b.host_port_end)
        return true;
  return false;
}

void Relay::Impl::publish_locked(const std::string& key, const Target& target,
                                 std::vector<Binding> bindings) {
  const auto found = publications_.find(key);
  const Publication* old = found == publications_.end() ? nullptr : &found->second;
  if (old && old->target == target && old->bindings == bindings) return;
  const auto netns = open_netns(target.sandbox);

  // Single ports first, so a range does not take a port a single binding of the set names.
  std::vector<size_t> order(bindings.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_partition(order.begin(), order.end(), [&](size_t i) {
    return bindings[i].host_port == bindings[i].host_port_end;
  });

  std::vector<Change> changes;
  std::vector<Held> held;
  std::vector<bool> kept(old ? old->held.size() : 0, false);
  std::vector<std::string> range_choices;
  for (const size_t i : order) {
    const Binding& b = bindings[i];
    Held h{b.proto, b.host_ip, 0, 0};
    std::optional<Bound> bound;
    // A port this key holds already is kept, not bound again (which would fail: it is in use).
    for (size_t j = 0; old && j < old->held.size(); j++) {
      const Held& o = old->held[j];
      if (!kept[j] && o.proto == b.proto && o.host_ip == b.host_ip && o.port >= b.host_port &&
          o.port <= b.host_port_end) {
        kept[j] = true;
        h.port = o.port;
        h.id = o.id;
        break;
      }
    }
    if (h.id == 0) {
      bound = bind_binding(b);  // throws; what this call bound so far closes on the way out
      h.port = bound->port;
      h.id = next_id_++;
      if (b.host_port_end > b.host_port)
        range_choices.push_back("port relay: publishing " + describe(b) + " on host port " +
                                std::to_string(h.port) + ", the first free one of the range");
    }
    Binding actual = b;
    actual.host_port = actual.host_port_end = h.port;
    changes.push_back(
        Change{h.id, std::move(bound), Route{netns, target, b.container_port, describe(actual)}});
    held.push_back(h);
  }
  std::vector<uint64_t> dropped;
  for (size_t j = 0; j < kept.size(); j++)
    if (!kept[j]) dropped.push_back(old->held[j].id);

  run_on_io([&] { apply(changes, dropped); });
  std::string names;
  for (const auto& c : changes) names += (names.empty() ? "" : ", ") + c.route.name;
  log::debug("port relay: " + key + ": " + names + " to " + target.sandbox);
  for (const auto& line : range_choices) log::info(line);
  publications_[key] = Publication{target, std::move(bindings), std::move(held)};
}

// On the I/O thread. The new listeners are made first, so that a failure (the reactor refusing
// a descriptor) leaves everything as it was; then the commit, which cannot fail.
void Relay::Impl::apply(std::vector<Change>& changes, const std::vector<uint64_t>& dropped) {
  std::vector<std::pair<uint64_t, std::shared_ptr<Listener>>> made;
  for (auto& c : changes)
    if (c.bound) made.emplace_back(c.id, make_listener(loop_, *c.bound, c.route));
  for (auto& c : changes) {
    if (c.bound) continue;
    if (const auto it = listeners_.find(c.id); it != listeners_.end())
      it->second->set_route(std::move(c.route));
  }
  for (auto& [id, listener] : made) {
    listener->start();
    listeners_.emplace(id, std::move(listener));
  }
  close_listeners(dropped);
}

void Relay::Impl::close_listeners(const std::vector<uint64_t>& ids) {
  for (const uint64_t id : ids) {
    if (const auto it = listeners_.find(id); it != listeners_.end()) {
      it->second->close();
      listeners_.erase(it);
    }
  }
}

void Relay::Impl::unpublish(const std::string& key) {
  std::lock_guard lock(mutex_);
  unpublish_locked(key);
}

void Relay::Impl::unpublish_locked(const std::string& key) {
  const auto found = publications_.find(key);
  if (found == publications_.end()) return;
  std::vector<uint64_t> ids;
  for (const auto& h : found->second.held) ids.push_back(h.id);
  run_on_io([&] { close_listeners(ids); });
  publications_.erase(found);
}

Relay::Relay(RelayOptions options) : impl_(std::make_unique<Impl>(options)) {}
Relay::~Relay() = default;

void Relay::publish(const std::string& key, const Target& target,
                    const std::vector<Binding>& bindings) {
  impl_->publish(key, target, bindings);
}

void Relay::unpublish(const std::string& key) { impl_->unpublish(key); }

}  // namespace wgnet::portmap
