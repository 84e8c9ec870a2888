// The engine: its set-up, its interfaces (each a TUN, its sockets and a Device, and what the link
// watch reports of its link) and the public API of engine.h. The workers and timers are in
// event_loop.cpp and deadlines.cpp (engine_impl.h holds what they share); the link watch is
// link_watch.h.
#include <fcntl.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sysinfo.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>

#include "engine/linux/engine_impl.h"
#include "util/error.h"
#include "util/log.h"
#include "util/netns.h"

namespace wgnet::engine {

namespace {

// Runs `fn` inside the namespace `nsfd` refers to: on this thread when it is already there, else
// on a short-lived thread that enters it (setns changes only the calling thread).
void in_netns(int nsfd, const std::function<void()>& fn) {
  const auto target = netns::id_of(nsfd);
  if (target && target == netns::id_of_this_thread()) return fn();
  netns::run_in("/proc/self/fd/" + std::to_string(nsfd), fn);
}

// The machine's RAM, which sizes each device's rate-limiter table as the Linux driver's; the
// table's default when it cannot be read.
size_t rate_limiter_entries() {
  struct sysinfo info {};
  if (::sysinfo(&info) != 0) return RateLimiter::Limits{}.max_entries;
  return RateLimiter::entries_for_memory(uint64_t{info.totalram} * info.mem_unit);
}

}  // namespace

unsigned cpus_available() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return static_cast<unsigned>(CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// Opens UDP sockets in the engine's namespace, whichever thread asks.
class EngineBinds final : public BindFactory {
 public:
  EngineBinds(const Fd& ns, const UdpOptions& options) : ns_(ns), options_(options) {}
  std::unique_ptr<Bind> open(uint16_t port) override {
    std::unique_ptr<Bind> b;
    in_netns(ns_.get(), [&] { b = UdpBindLinux::open(port, options_); });
    return b;
  }

 private:
  const Fd& ns_;
  const UdpOptions& options_;
};

// ---- DeviceEvents ----

void Interface::bind_changed(Device&) { engine.rebind(*this); }
void Interface::handshakes_pending(Device&) { engine.post_handshakes(*this); }
void Interface::timer_deadline_changed(Device&, Clock::Time when) { engine.schedule(*this, when); }

// ---- LinkListener ----

void Interface::link_changed(const LinkEvents& events) {
  if (removed || lost) return;
  ifindex = events.gone ? 0 : events.ifindex;
  if (events.mtu) tun->note_mtu(*events.mtu);
  if (events.up) engine.link_state(*this, *events.up);
}

// ---- set-up ----

Engine::Impl::Impl(EngineOptions o)
    : options(std::move(o)), clock(options.clock ? *options.clock : system_clock) {
  options.device.rate_limits.max_entries = rate_limiter_entries();
  if (options.own_binds) {
    own_ns.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!own_ns) throw SystemError("engine: open own network namespace: " + errno_text(errno));
    binds = std::make_shared<EngineBinds>(own_ns, options.udp);
  }
  ep.reset(::epoll_create1(EPOLL_CLOEXEC));
  stop_fd.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  wake_fd.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  timer_fd.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!ep || !stop_fd || !wake_fd || !timer_fd)
    throw SystemError("engine: epoll/eventfd/timerfd: " + errno_text(errno));
  // stop: level-triggered, so every worker sees it; wake: edge-triggered, one worker per poke;
  // timer: one-shot, one worker runs the due timers.
  const std::tuple<int, uint32_t, uint64_t> fixed[] = {
      {stop_fd.get(), EPOLLIN, kStopId},
      {wake_fd.get(), EPOLLIN | EPOLLET, kWakeId},
      {timer_fd.get(), EPOLLIN | EPOLLONESHOT, kTimerId}};
  for (auto [fd, events, id] : fixed) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
      throw SystemError("engine: epoll_ctl: " + errno_text(errno));
  }
  if (options.batch == 0) options.batch = 1;
  if (options.link_watch) {
    try {
      open_link_watch();
    } catch (const std::exception& e) {
      // Then MTU changes go unnoticed (packets are still carried); deletions still are, by the
      // TUN.
      log::warn(std::string("engine: no link watch: ") + e.what());
      links.reset();
    }
  }
}

Engine::Engine(EngineOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  Impl& e = *impl_;
  if (!e.options.uapi_dir.empty())
    e.uapi = std::make_unique<UapiServer>(e.options.uapi_dir, e.options.uapi_limits,
                                          [&e](const std::string& name) {
                                            if (e.options.on_uapi_removed)
                                              e.options.on_uapi_removed(name);
                                          });
  const unsigned n = e.options.workers ? e.options.workers : cpus_available();
  e.max_handshake_runners = std::max(1u, n / 2);
  try {
    for (unsigned i = 0; i < n; i++) {
      auto w = std::make_unique<Worker>(e.options.batch);
      Worker* wp = w.get();
      e.workers.push_back(std::move(w));
      wp->thread = std::thread([&e, wp] { e.worker_main(*wp); });
    }
  } catch (...) {
    shutdown();
    throw;
  }
}

Engine::~Engine() {
  shutdown();
  for (const auto& name : names()) remove(name);
  impl_->workers.clear();
}

void Engine::shutdown() {
  Impl& e = *impl_;
  std::lock_guard lock(e.shutdown_mu);
  if (!e.stopping.exchange(true)) {
    uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(e.stop_fd.get(), &one, sizeof one);
  }
  for (auto& w : e.workers)
    if (w->thread.joinable()) w->thread.join();
  if (e.uapi) e.uapi->shutdown();
  std::lock_guard tasks(e.tasks_mu);
  e.handshake_tasks.clear();  // nobody runs them now; they must not keep interfaces alive
}

unsigned Engine::worker_count() const { return static_cast<unsigned>(impl_->workers.size()); }

// ---- interfaces ----

void Engine::Impl::rebind(Interface& i) {
  std::lock_guard lock(i.sources_mu);
  if (i.removed) return;
  auto b = i.device->bind();
  if (b == i.registered_bind) return;
  for (auto& s : i.udp_sources) drop_source(s);
  i.udp_sources.clear();
  i.registered_bind = b;
  if (!b) return;
  for (int fd : b->poll_fds()) {
    Source s(Source::Kind::kUdp, fd);
    s.iface = i.shared_from_this();
    s.bind = b;
    i.udp_sources.push_back(add_source(std::move(s)));
  }
}

void Engine::Impl::detach(Interface& i) {
  i.removed = true;
  {
    std::lock_guard lock(timers_mu);
    i.timers_closed = true;
    if (i.timer_at) timers.erase({*i.timer_at, &i});
    i.timer_at.reset();
  }
  {
    std::lock_guard lock(i.sources_mu);
    drop_source(i.tun_source);
    i.tun_source.reset();
    for (auto& s : i.udp_sources) drop_source(s);
    i.udp_sources.clear();
    i.registered_bind.reset();
  }
  if (links) links->unwatch(i);
  i.ifindex = 0;
  if (i.uapi_served && uapi) uapi->remove(i.name);
}

void Engine::Impl::device_lost(Interface& i, const std::string& why) {
  if (i.lost.exchange(true)) return;
  log::info("engine: " + i.name + ": device lost (" + why + ")");
  {
    std::lock_guard lock(i.sources_mu);
    drop_source(i.tun_source);
    i.tun_source.reset();
  }
  if (links) links->unwatch(i);
  i.ifindex = 0;
  i.device->down();  // nothing to carry any more: no keepalives, no handshakes
  if (options.on_lost) options.on_lost(i.name, why);
}

// ---- links ----

void Engine::Impl::open_link_watch() {
  links = std::make_unique<LinkWatch>();
  links_source = add_source(Source(Source::Kind::kNetlink, links->poll_fd()));
}

void Engine::Impl::link_state(Interface& i, bool up) {
  // Changes only: the device starts up whatever its link says, as wireguard-go's does.
  const int was = i.link_up.exchange(up ? 1 : 0);
  if (!i.follow_link || was < 0 || was == (up ? 1 : 0) || i.removed || i.lost) return;
  if (!up) {
    i.device->down();
    log::debug("engine: " + i.name + ": down");
    return;
  }
  // The port may still be held for a moment by a worker finishing a batch on the old socket.
  for (int attempt = 0;; attempt++) {
    try {
      i.device->up();
      log::debug("engine: " + i.name + ": up");
      return;
    } catch (const std::exception& e) {
      if (attempt < 3) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      // As wireguard-go: the link is up, the device is not (its port is taken); `wg` says so.
      log::error("engine: " + i.name + ": cannot go up: " + e.what());
      return;
    }
  }
}

void Engine::add(const std::string& name, std::unique_ptr<Tun> tun, AddOptions options) {
  Impl& e = *impl_;
  if (!tun) throw InputError("engine: add " + name + ": no TUN device");
  if (tun->poll_fd() < 0) throw InputError("engine: add " + name + ": a TUN with no descriptor");
  if (e.stopping) throw SystemError("engine: stopped");
  if (e.find(name)) throw InputError("engine: interface " + name + " exists");
  std::shared_ptr<BindFactory> binds = options.binds ? std::move(options.binds) : e.binds;
  if (!binds) throw InputError("engine: add " + name + ": no sockets handed over with it");
  auto i = std::make_shared<Interface>(e, name, std::move(tun), std::move(binds), e.clock,
                                       e.options.device);
  i->follow_link = options.follow_link_state && e.links;  // before anyone else can see it
  try {
    if (options.config) i->device->apply(*options.config);
    std::unique_lock lock(e.ifaces_mu);
    if (!e.ifaces.emplace(name, i).second)
      throw InputError("engine: interface " + name + " exists");
  } catch (...) {
    e.detach(*i);  // whatever its device scheduled must not outlive it
    throw;
  }
  try {
    i->device->up();
    e.rebind(*i);
    {
      std::lock_guard lock(i->sources_mu);
      Source s(Source::Kind::kTun, i->tun->poll_fd());
      s.iface = i;
      i->tun_source = e.add_source(std::move(s));
    }
    if (e.links) e.links->watch(i, *i->tun);
    if (e.uapi && options.uapi) {
      UapiServer::Handlers h;
      h.set = [this, name](std::string_view body) { return uapi_set(name, body); };
      h.get = [this, name] { return uapi_get(name); };
      e.uapi->add(name, std::move(h), std::move(options.uapi_listener));
      i->uapi_served = true;
    }
    if (auto next = i->device->next_timer_deadline()) e.schedule(*i, *next);
  } catch (...) {
    i.reset();
    remove(name);
    throw;
  }
  log::debug("engine: " + name + " added");
}

bool Engine::remove(const std::string& name) {
  Impl& e = *impl_;
  std::shared_ptr<Interface> i;
  {
    std::unique_lock lock(e.ifaces_mu);
    auto it = e.ifaces.find(name);
    if (it == e.ifaces.end()) return false;
    i = std::move(it->second);
    e.ifaces.erase(it);
  }
  e.detach(*i);
  auto destroyed = i->done.promise.get_future();
  i.reset();
  // A worker may hold it for the batch it is in; a worker itself cannot wait for that.
  if (t_worker_of != &e) destroyed.wait();
  log::debug("engine: " + name + " removed");
  return true;
}

bool Engine::contains(const std::string& name) const { return impl_->find(name) != nullptr; }

std::vector<std::string> Engine::names() const {
  std::shared_lock lock(impl_->ifaces_mu);
  std::vector<std::string> out;
  for (const auto& [name, i] : impl_->ifaces) out.push_back(name);
  return out;
}

void Engine::apply(const std::string& name, const wg::DeviceConfig& config) {
  impl_->get(name)->device->apply(config);
}

wg::DeviceStatus Engine::status(const std::string& name) const {
  return impl_->get(name)->device->status();
}

int Engine::uapi_set(const std::string& name, std::string_view body) {
  auto i = impl_->find(name);
  return i ? i->device->uapi_set(body) : -ENODEV;
}

std::string Engine::uapi_get(const std::string& name) const {
  auto i = impl_->find(name);
  return i ? i->device->uapi_get() : wg::uapi::encode_errno(-ENODEV);
}

void Engine::set_mtu(const std::string& name, uint32_t mtu) {
  auto i = impl_->get(name);
  LinkEvents events;
  events.ifindex = i->ifindex;
  events.mtu = mtu;
  i->link_changed(events);
}

InterfaceInfo Engine::info(const std::string& name) const {
  auto i = impl_->get(name);
  InterfaceInfo out;
  try {
    out.ifname = i->tun->name();
  } catch (const std::exception&) {
  }
  out.ifindex = i->ifindex;
  out.mtu = i->tun->mtu();
  out.lost = i->lost;
  out.tun = i->tun->stats();
  auto b = i->device->bind();
  if (b) {
    out.listen_port = b->port();
    out.udp = b->stats();
  }
  out.counters = i->device->counters();
  return out;
}

}  // namespace wgnet::engine
