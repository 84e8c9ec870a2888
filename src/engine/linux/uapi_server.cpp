// UAPI sockets on one epoll thread: listeners, connections with bounded buffers and pipelined
// operations, and an inotify watch that notices a socket file deleted under us. Facts about what
// `wg` expects are in wireguard.md "UAPI" and engine.md "Pitfalls".
#include "engine/linux/uapi_server.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "crypto/secure.h"
#include "util/error.h"
#include "util/log.h"
#include "util/unix_address.h"

namespace wgnet::engine {

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// epoll data: the kind in the top byte, an id below.
enum Kind : uint64_t { kWake = 1, kInotify = 2, kListener = 3, kConnection = 4 };
constexpr uint64_t tag(Kind k, uint64_t id) { return (static_cast<uint64_t>(k) << 56) | id; }
constexpr Kind kind_of(uint64_t data) { return static_cast<Kind>(data >> 56); }
constexpr uint64_t id_of(uint64_t data) { return data & ((uint64_t{1} << 56) - 1); }

// An operation line is "get=1" or "set=1"; anything longer without a newline is not one.
constexpr size_t kMaxOpLine = 64;
constexpr size_t kReadChunk = 64 * 1024;

void check_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name == "." || name == ".." ||
      name.find_first_of("/\n") != std::string::npos || name.find('\0') != std::string::npos)
    throw InputError("UAPI: '" + log::escape(name) + "' cannot name a socket file");
}

// True when something accepts connections at `path` (a live server, not a stale file).
bool socket_alive(const sockaddr_un& addr) {
  Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!probe) return false;
  int rc = ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  // EAGAIN: its backlog is full, but it is there.
  return rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
}

void mkdir_p(const std::string& dir) {
  for (size_t at = 1; at <= dir.size(); at++) {
    if (at != dir.size() && dir[at] != '/') continue;
    std::string part = dir.substr(0, at);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST)
      throw SystemError("UAPI: mkdir " + part + ": " + errno_text(errno));
  }
}

struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileId&) const = default;
};

std::optional<FileId> file_id(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
  return FileId{st.st_dev, st.st_ino};
}

}  // namespace

struct Listener {
  uint64_t id = 0;
  std::string name, path;
  Fd fd;
  UapiServer::Handlers handlers;
  std::optional<FileId> file;  // the socket file we created or were handed (to notice a swap)
  int watch = -1;              // inotify watch descriptor
  bool removed = false;        // guarded by Impl::mu
  bool reported = false;       // on_removed already called (server thread only)
};

// The handlers, with an exception turned into wireguard-go's "other error" (ENOANO).
std::string call_get(const Listener& l) {
  try {
    return l.handlers.get();
  } catch (const std::exception& e) {
    log::warn("UAPI: get on " + l.path + ": " + e.what());
    return "errno=-55\n\n";
  }
}
int call_set(const Listener& l, std::string_view body) {
  try {
    return l.handlers.set(body);
  } catch (const std::exception& e) {
    log::warn("UAPI: set on " + l.path + ": " + e.what());
    return -55;
  }
}

struct Connection {
  Fd fd;
  std::shared_ptr<Listener> listener;
  std::string in;  // received, not yet processed (from `pos`)
  size_t pos = 0;
  std::string out;  // reply bytes not yet written (from `out_pos`)
  size_t out_pos = 0;
  bool eof = false;
  bool close_after_write = false;
  SteadyTime last_activity;
  ~Connection() {
    crypto::wipe(in);
    crypto::wipe(out);
  }
};

struct UapiServer::Impl {
  std::string dir;
  Limits limits;
  std::function<void(const std::string&)> on_removed;

  Fd ep, wake, inotify;
  std::thread thread;
  std::atomic<bool> stopping{false};

  std::mutex mu;  // listeners (the maps and each one's `removed`)
  std::unordered_map<std::string, std::shared_ptr<Listener>> by_name;
  std::unordered_map<uint64_t, std::shared_ptr<Listener>> by_id;
  std::unordered_map<int, std::shared_ptr<Listener>> by_watch;
  uint64_t next_id = 1;

  // Server thread only.
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections;
  size_t buffered = 0;  // sum of connections' unprocessed input
  uint64_t next_connection = 1;

  void run();
  void accept_all(const std::shared_ptr<Listener>& l);
  void on_connection(uint64_t id, uint32_t events);
  void read_some(Connection& c);
  void process(Connection& c);
  void flush(Connection& c);
  void update_interest(uint64_t id, Connection& c);
  void close_connection(uint64_t id);
  void on_inotify();
  void drop_removed_connections();
  void expire_idle(SteadyTime now);
  void poke() {
    uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(wake.get(), &one, sizeof one);
  }
};

std::string UapiServer::socket_path(const std::string& dir, const std::string& name) {
  return dir + "/" + name + ".sock";
}

Fd UapiServer::listen(const std::string& dir, const std::string& name) {
  check_name(name);
  mkdir_p(dir);
  const std::string path = socket_path(dir, name);
  const sockaddr_un addr = unix_address(path);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw SystemError("UAPI: socket: " + errno_text(errno));
  // The file is created with the socket inode's mode: 0600 from the start, whatever the umask
  // (a chmod after bind would leave a moment where it is wider).
  ::fchmod(fd.get(), 0600);
  auto bind_once = [&] {
    return ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  };
  if (!bind_once()) {
    if (errno != EADDRINUSE) throw SystemError("UAPI: bind " + path + ": " + errno_text(errno));
    if (socket_alive(addr)) throw SystemError("UAPI: " + path + " is in use by a running process");
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      throw SystemError("UAPI: cannot remove the stale " + path + ": " + errno_text(errno));
    if (!bind_once()) throw SystemError("UAPI: bind " + path + ": " + errno_text(errno));
  }
  if (::chmod(path.c_str(), 0600) != 0 || ::listen(fd.get(), SOMAXCONN) != 0) {
    int e = errno;
    ::unlink(path.c_str());
    throw SystemError("UAPI: listen on " + path + ": " + errno_text(e));
  }
  return fd;
}

void UapiServer::remove_stale(const std::string& dir, const std::string& name) {
  const std::string path = socket_path(dir, name);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return;
  if (socket_alive(unix_address(path))) return;
  ::unlink(path.c_str());
}

UapiServer::UapiServer(std::string dir, Limits limits,
                       std::function<void(const std::string&)> on_removed)
    : impl_(std::make_unique<Impl>()) {
  impl_->dir = std::move(dir);
  impl_->limits = limits;
  impl_->on_removed = std::move(on_removed);
  impl_->ep.reset(::epoll_create1(EPOLL_CLOEXEC));
  impl_->wake.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  impl_->inotify.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!impl_->ep || !impl_->wake || !impl_->inotify)
    throw SystemError("UAPI: epoll/eventfd/inotify: " + errno_text(errno));
  for (auto [fd, k] : {std::pair{impl_->wake.get(), kWake}, {impl_->inotify.get(), kInotify}}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag(k, 0);
    if (::epoll_ctl(impl_->ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
      throw SystemError("UAPI: epoll_ctl: " + errno_text(errno));
  }
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

UapiServer::~UapiServer() { shutdown(); }

void UapiServer::shutdown() {
  if (!impl_->thread.joinable()) return;
  impl_->stopping = true;
  impl_->poke();
  impl_->thread.join();
  impl_->connections.clear();
  std::vector<std::string> names;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [name, l] : impl_->by_name) names.push_back(name);
  }
  for (auto& n : names) remove(n);
}

void UapiServer::add(const std::string& name, Handlers handlers, Fd listener) {
  check_name(name);
  auto l = std::make_shared<Listener>();
  l->name = name;
  l->path = socket_path(impl_->dir, name);
  l->handlers = std::move(handlers);
  l->fd = listener ? std::move(listener) : listen(impl_->dir, name);
  // A handed-over descriptor may be blocking; accept must not be.
  ::fcntl(l->fd.get(), F_SETFL, ::fcntl(l->fd.get(), F_GETFL) | O_NONBLOCK);
  l->file = file_id(l->path);
  std::lock_guard lock(impl_->mu);
  if (impl_->by_name.count(name)) throw InputError("UAPI: " + name + " is already served");
  l->watch = ::inotify_add_watch(impl_->inotify.get(), l->path.c_str(),
                                 IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
  l->id = impl_->next_id++;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = tag(kListener, l->id);
  if (::epoll_ctl(impl_->ep.get(), EPOLL_CTL_ADD, l->fd.get(), &ev) != 0) {
    int e = errno;
    if (l->watch >= 0) ::inotify_rm_watch(impl_->inotify.get(), l->watch);
    throw SystemError("UAPI: epoll_ctl: " + errno_text(e));
  }
  impl_->by_name[name] = l;
  impl_->by_id[l->id] = l;
  if (l->watch >= 0) impl_->by_watch[l->watch] = l;
}

void UapiServer::remove(const std::string& name) {
  std::shared_ptr<Listener> l;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->by_name.find(name);
    if (it == impl_->by_name.end()) return;
    l = it->second;
    l->removed = true;
    impl_->by_name.erase(it);
    impl_->by_id.erase(l->id);
    if (l->watch >= 0) {
      impl_->by_watch.erase(l->watch);
      ::inotify_rm_watch(impl_->inotify.get(), l->watch);
    }
    ::epoll_ctl(impl_->ep.get(), EPOLL_CTL_DEL, l->fd.get(), nullptr);
  }
  // Only our own file: a new server may have taken the name since.
  if (l->file && file_id(l->path) == l->file) ::unlink(l->path.c_str());
  impl_->poke();  // the server thread closes its connections
}

// ---- the server thread ----

void UapiServer::Impl::run() {
  epoll_event events[32];
  while (!stopping) {
    int n = ::epoll_wait(ep.get(), events, 32, 1000);
    if (n < 0 && errno != EINTR) {
      log::error("UAPI: epoll_wait: " + errno_text(errno));
      return;
    }
    for (int i = 0; i < n && !stopping; i++) {
      const uint64_t data = events[i].data.u64;
      switch (kind_of(data)) {
        case kWake: {
          uint64_t v;
          [[maybe_unused]] auto r = ::read(wake.get(), &v, sizeof v);
          drop_removed_connections();
          break;
        }
        case kInotify:
          on_inotify();
          break;
        case kListener: {
          std::shared_ptr<Listener> l;
          {
            std::lock_guard lock(mu);
            if (auto it = by_id.find(id_of(data)); it != by_id.end()) l = it->second;
          }
          if (l) accept_all(l);
          break;
        }
        case kConnection:
          on_connection(id_of(data), events[i].events);
          break;
      }
    }
    expire_idle(std::chrono::steady_clock::now());
  }
}

void UapiServer::Impl::accept_all(const std::shared_ptr<Listener>& l) {
  for (;;) {
    Fd fd(::accept4(l->fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN) log::warn("UAPI: accept on " + l->path + ": " + errno_text(errno));
      return;
    }
    // Root only, as the socket's mode says: also the same user as us when not root (tests).
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        (cred.uid != 0 && cred.uid != ::geteuid()))
      continue;
    if (connections.size() >= limits.max_connections) {
      log::warn("UAPI: too many connections; one on " + l->path + " refused");
      continue;  // closed: the client sees EOF, not a refused connect
    }
    auto c = std::make_unique<Connection>();
    c->fd = std::move(fd);
    c->listener = l;
    c->last_activity = std::chrono::steady_clock::now();
    const uint64_t id = next_connection++;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = tag(kConnection, id);
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, c->fd.get(), &ev) != 0) continue;
    connections[id] = std::move(c);
  }
}

void UapiServer::Impl::on_connection(uint64_t id, uint32_t events) {
  auto it = connections.find(id);
  if (it == connections.end()) return;
  Connection& c = *it->second;
  c.last_activity = std::chrono::steady_clock::now();
  if (events & EPOLLOUT) flush(c);
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && c.out_pos == c.out.size())
    read_some(c);
  process(c);
  const bool done = c.out_pos == c.out.size();
  if ((done && (c.close_after_write || (c.eof && c.pos == c.in.size()))) || (events & EPOLLERR)) {
    close_connection(id);
    return;
  }
  update_interest(id, c);
}

void UapiServer::Impl::read_some(Connection& c) {
  while (!c.eof && !c.close_after_write) {
    if (buffered + kReadChunk > limits.max_buffered ||
        c.in.size() - c.pos > limits.max_request + kMaxOpLine) {
      // Over a bound: wireguard-go's answer to a request it cannot read.
      log::warn("UAPI: request on " + c.listener->path + " too large; connection closed");
      c.out.assign("errno=-5\n\n");
      c.out_pos = 0;
      c.close_after_write = true;
      buffered -= c.in.size();
      crypto::wipe(c.in);
      c.in.clear();
      c.pos = 0;
      return;
    }
    const size_t old = c.in.size();
    // Growing a string that may hold a private key: wipe the old storage when it moves.
    if (c.in.capacity() - old < kReadChunk) {
      std::string bigger;
      bigger.reserve(std::max(c.in.capacity() * 2, old + kReadChunk));
      bigger.assign(c.in);
      crypto::wipe(c.in);
      c.in.swap(bigger);
    }
    c.in.resize(old + kReadChunk);
    ssize_t r = ::read(c.fd.get(), c.in.data() + old, kReadChunk);
    if (r < 0 && errno == EINTR) r = 0;
    c.in.resize(old + (r > 0 ? static_cast<size_t>(r) : 0));
    if (r > 0) {
      buffered += static_cast<size_t>(r);
      continue;
    }
    if (r == 0 || errno != EAGAIN) c.eof = true;
    return;
  }
}

void UapiServer::Impl::process(Connection& c) {
  auto consume = [&](size_t to) {
    buffered -= to - c.pos;
    c.pos = to;
    if (c.pos == c.in.size()) {
      crypto::wipe(c.in);
      c.in.clear();
      c.pos = 0;
    }
  };
  // One operation at a time, and none while a reply is still being written: input waits in the
  // socket (bounded by its buffer) rather than in memory.
  while (!c.close_after_write && c.out_pos == c.out.size() && c.pos < c.in.size()) {
    std::string_view in(c.in);
    in.remove_prefix(c.pos);
    const size_t nl = in.find('\n');
    if (nl == std::string_view::npos) {
      if (in.size() > kMaxOpLine || c.eof) c.close_after_write = true;
      return;
    }
    const std::string_view op = in.substr(0, nl);
    std::string reply;
    if (op == "get=1") {
      if (in.size() < nl + 2) {
        if (c.eof) c.close_after_write = true;
        return;
      }
      const bool blank = in[nl + 1] == '\n';
      consume(c.pos + nl + 2);
      reply = blank ? call_get(*c.listener) : "errno=-22\n\n";
    } else if (op == "set=1") {
      const std::string_view rest = in.substr(nl + 1);
      size_t body_len, used;
      if (!rest.empty() && rest[0] == '\n') {
        body_len = 0;
        used = 1;
      } else if (size_t end = rest.find("\n\n"); end != std::string_view::npos) {
        body_len = end + 1;
        used = end + 2;
      } else if (c.eof) {
        body_len = used = rest.size();  // wireguard-go applies what came before the end
      } else {
        return;  // more to come (read_some bounds it)
      }
      const int err = call_set(*c.listener, rest.substr(0, body_len));
      consume(c.pos + nl + 1 + used);
      reply = "errno=" + std::to_string(err) + "\n\n";
    } else {
      // wireguard-go closes the connection on an operation it does not know, without a reply.
      log::debug("UAPI: unknown operation on " + c.listener->path);
      c.close_after_write = true;
      return;
    }
    crypto::wipe(c.out);
    c.out = std::move(reply);
    crypto::wipe(reply);
    c.out_pos = 0;
    flush(c);
  }
}

void UapiServer::Impl::flush(Connection& c) {
  while (c.out_pos < c.out.size()) {
    ssize_t w =
        ::send(c.fd.get(), c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
    if (w > 0) {
      c.out_pos += static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) return;
    // The peer went away: nothing more to say to it.
    c.close_after_write = true;
    c.out_pos = c.out.size();
  }
  crypto::wipe(c.out);
  c.out.clear();
  c.out_pos = 0;
}

void UapiServer::Impl::update_interest(uint64_t id, Connection& c) {
  epoll_event ev{};
  ev.events = c.out_pos < c.out.size() ? EPOLLOUT : (EPOLLIN | EPOLLRDHUP);
  ev.data.u64 = tag(kConnection, id);
  ::epoll_ctl(ep.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
}

void UapiServer::Impl::close_connection(uint64_t id) {
  auto it = connections.find(id);
  if (it == connections.end()) return;
  buffered -= it->second->in.size() - it->second->pos;
  ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, it->second->fd.get(), nullptr);
  connections.erase(it);
}

void UapiServer::Impl::drop_removed_connections() {
  std::vector<uint64_t> gone;
  {
    std::lock_guard lock(mu);
    for (auto& [id, c] : connections)
      if (c->listener->removed) gone.push_back(id);
  }
  for (auto id : gone) close_connection(id);
}

void UapiServer::Impl::expire_idle(SteadyTime now) {
  std::vector<uint64_t> idle;
  for (auto& [id, c] : connections)
    if (now - c->last_activity > limits.idle_timeout) idle.push_back(id);
  for (auto id : idle) close_connection(id);
}

void UapiServer::Impl::on_inotify() {
  alignas(inotify_event) char buf[4096];
  std::vector<std::shared_ptr<Listener>> touched;
  for (;;) {
    ssize_t r = ::read(inotify.get(), buf, sizeof buf);
    if (r <= 0) break;
    for (char* p = buf; p < buf + r;) {
      auto* e = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + e->len;
      std::lock_guard lock(mu);
      if (auto it = by_watch.find(e->wd); it != by_watch.end()) touched.push_back(it->second);
    }
  }
  for (auto& l : touched) {
    // As wireguard-go: whatever the event, the socket counts as gone when its file is.
    if (l->reported || file_id(l->path) == l->file) continue;
    {
      std::lock_guard lock(mu);
      if (l->removed) continue;
    }
    l->reported = true;
    log::info("UAPI: " + l->path + " was removed");
    if (on_removed) on_removed(l->name);
  }
}

}  // namespace wgnet::engine
