// The engine's event loop: workers sharing one epoll set whose descriptors are EPOLLONESHOT (one
// reader per fd at a time), the three-stage data path of device.h around them, one timerfd for
// every device's timers, a task queue for handshakes, and one rtnetlink watch that follows each
// TUN device's MTU and namespace moves (in every namespace, without pinning any: netns ids).
#include "engine/linux/engine.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "netlink/message.h"
#include "netlink/socket.h"
#include "util/error.h"
#include "util/log.h"
#include "util/netns.h"

namespace wgnet::engine {

namespace {

// epoll data of the engine's own descriptors; sources count up from kFirstSource.
constexpr uint64_t kStopId = 1, kWakeId = 2, kTimerId = 3, kFirstSource = 16;
// Handshake messages one task processes before it yields to the data path (and re-queues): a
// few hundred microseconds of X25519 at most.
constexpr size_t kHandshakesPerTask = 4;
// Tasks a worker runs after an I/O event, and when woken for tasks alone.
constexpr int kTasksAfterEvent = 1;
constexpr int kTasksWhenIdle = 16;

// The engine whose worker this thread is (remove() must not wait for itself there).
thread_local const void* t_worker_of = nullptr;

// A network namespace, by the identity of its nsfs inode.
struct NsId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const NsId&) const = default;
};

std::optional<NsId> ns_of_fd(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::nullopt;
  return NsId{st.st_dev, st.st_ino};
}

std::optional<NsId> ns_of_this_thread() {
  struct stat st {};
  if (::stat("/proc/thread-self/ns/net", &st) != 0) return std::nullopt;
  return NsId{st.st_dev, st.st_ino};
}

// Runs `fn` inside the namespace `nsfd` refers to: on this thread when it is already there, else
// on a short-lived thread that enters it (setns changes only the calling thread).
void in_netns(int nsfd, const std::function<void()>& fn) {
  const auto target = ns_of_fd(nsfd);
  if (target && target == ns_of_this_thread()) return fn();
  netns::run_in("/proc/self/fd/" + std::to_string(nsfd), fn);
}

// The machine's RAM, which sizes each device's rate-limiter table as the Linux driver's; the
// table's default when it cannot be read.
size_t rate_limiter_entries() {
  struct sysinfo info{};
  if (::sysinfo(&info) != 0) return RateLimiter::Limits{}.max_entries;
  return RateLimiter::entries_for_memory(uint64_t{info.totalram} * info.mem_unit);
}

unsigned cpus_available() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return static_cast<unsigned>(CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// One batch's packet buffers. Mapped, not allocated: pages cost memory only once a packet
// touched them, so the pool's size (batch × 64 KiB, for super-packets) is mostly address space.
class PacketPool {
 public:
  explicit PacketPool(size_t count) : packets_(count) {
    bytes_ = count * kStride;
    void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw SystemError("engine: mmap packet buffers: " + errno_text(errno));
    base_ = static_cast<uint8_t*>(p);
    reset();
  }
  ~PacketPool() { ::munmap(base_, bytes_); }
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  // Every packet back in its own buffer (a receive may have made it a view of another's), at its
  // offset, empty, ready for a read.
  std::span<Packet> reset() {
    for (size_t i = 0; i < packets_.size(); i++)
      packets_[i] = Packet{base_ + i * kStride, static_cast<uint32_t>(kBufferSize),
                           static_cast<uint32_t>(kHeadroom), 0};
    return packets_;
  }

 private:
  static constexpr size_t kStride = (kBufferSize + 63) / 64 * 64;
  uint8_t* base_ = nullptr;
  size_t bytes_ = 0;
  std::vector<Packet> packets_;
};

// Signals a promise when destroyed: as an object's first member, once everything else is gone.
struct DoneSignal {
  std::promise<void> promise;
  ~DoneSignal() { promise.set_value(); }
};

}  // namespace

struct Interface;

// A descriptor in the epoll set. Whoever handles one of its events holds it (shared_ptr), which
// keeps the descriptor open: its number cannot be reused under an EPOLL_CTL_MOD or _DEL.
struct Source {
  enum class Kind : uint8_t { kTun, kUdp, kNetlink };
  Source(Kind k, int descriptor) : kind(k), fd(descriptor) {}
  Kind kind;
  uint64_t id = 0;
  int fd = -1;
  std::shared_ptr<Interface> iface;  // kTun, kUdp
  std::shared_ptr<Bind> bind;        // kUdp
};

// Link events of every namespace a device of ours lives in, through two rtnetlink sockets in the
// engine's own namespace: a socket inside a container's namespace would keep that namespace
// alive (and our device in it) after the container is gone. Instead each such namespace gets a
// netns id here (which pins nothing); NETLINK_LISTEN_ALL_NSID then delivers its link events
// tagged with that id, and RTM_GETLINK with IFLA_TARGET_NETNSID looks its links up.
struct LinkWatch {
  Fd events;  // RTMGRP_LINK of every namespace with an id here
  netlink::Socket requests{NETLINK_ROUTE};
  std::mutex requests_mu;  // one request at a time on `requests`
  std::shared_ptr<Source> source;
};

// Where a device is: its namespace's id (kOwnNs for the engine's own) and its ifindex there.
constexpr int kOwnNs = NETNSA_NSID_NOT_ASSIGNED;
using LinkKey = std::pair<int, int>;

struct Worker {
  explicit Worker(size_t batch) : tun_pool(batch), udp_pool(batch), from(batch) {}
  PacketPool tun_pool, udp_pool;
  OutboundBatch out;
  InboundBatch in;
  std::vector<NetEndpoint> from;
  std::thread thread;
};

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

struct Interface final : DeviceEvents, std::enable_shared_from_this<Interface> {
  Interface(Engine::Impl& e, std::string n, std::unique_ptr<TunLinux> t, BindFactory& binds,
            const Clock& clock, const DeviceOptions& options)
      : engine(e), name(std::move(n)), tun(std::move(t)) {
    device = std::make_unique<Device>(*tun, binds, clock, options, this);
  }

  void bind_changed(Device&) override;
  void handshakes_pending(Device&) override;
  void timer_deadline_changed(Device&, Clock::Time when) override;

  DoneSignal done;  // first: signalled after every member below is destroyed
  Engine::Impl& engine;
  const std::string name;
  std::unique_ptr<TunLinux> tun;
  std::unique_ptr<Device> device;  // after tun: destroyed before it

  std::mutex sources_mu;  // the registered sources and bind
  std::shared_ptr<Source> tun_source;
  std::vector<std::shared_ptr<Source>> udp_sources;
  std::shared_ptr<Bind> registered_bind;
  std::mutex reader_mu;      // the serial stage of receiving: one Bind, two sockets
  std::mutex tun_reader_mu;  // the serial stage of sending (see on_tun)

  std::atomic<bool> removed{false}, lost{false}, handshakes_posted{false};
  std::atomic<bool> uapi_served{false};
  bool follow_link = false;
  std::atomic<int> link_up{-1};  // as last seen: -1 unknown, 0 down, 1 up
  // Impl::timers_mu: when this interface is in the timer set, and whether it may still enter it.
  std::optional<Clock::Time> timer_at;
  bool timers_closed = false;
  // Impl::watch_mu: where the device was last seen (watched: in Impl::watched).
  bool watched = false;
  LinkKey link{kOwnNs, 0};
};

struct Engine::Impl {
  explicit Impl(EngineOptions o);

  EngineOptions options;
  SystemClock clock;
  Fd own_ns;
  std::unique_ptr<EngineBinds> binds;
  Fd ep, stop_fd, wake_fd, timer_fd;
  std::unique_ptr<UapiServer> uapi;

  mutable std::shared_mutex ifaces_mu;
  std::unordered_map<std::string, std::shared_ptr<Interface>> ifaces;

  mutable std::shared_mutex sources_mu;
  std::unordered_map<uint64_t, std::shared_ptr<Source>> sources;
  std::atomic<uint64_t> next_source{kFirstSource};

  std::mutex tasks_mu;
  std::deque<std::shared_ptr<Interface>> handshake_tasks;
  std::atomic<unsigned> handshake_runners{0};
  unsigned max_handshake_runners = 1;  // half the workers, at least one

  std::mutex timers_mu;
  std::set<std::pair<Clock::Time, Interface*>> timers;
  std::optional<Clock::Time> armed;

  std::mutex watch_mu;
  std::unique_ptr<LinkWatch> links;
  std::map<LinkKey, std::weak_ptr<Interface>> watched;

  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<bool> stopping{false};
  std::mutex shutdown_mu;

  std::shared_ptr<Interface> find(const std::string& name) const {
    std::shared_lock lock(ifaces_mu);
    auto it = ifaces.find(name);
    return it == ifaces.end() ? nullptr : it->second;
  }
  std::shared_ptr<Interface> get(const std::string& name) const {
    auto i = find(name);
    if (!i) throw InputError("engine: no interface " + name);
    return i;
  }

  // sources
  std::shared_ptr<Source> add_source(Source s);
  void drop_source(const std::shared_ptr<Source>& s);
  void rearm(const Source& s) const;
  std::shared_ptr<Source> lookup(uint64_t id) const;

  // the loop
  void worker_main(Worker& w);
  void on_tun(Worker& w, Source& s, uint32_t events);
  void on_udp(Worker& w, Source& s);
  void on_netlink();
  void run_tasks(int max_tasks);
  void poke() const {
    uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(wake_fd.get(), &one, sizeof one);
  }

  // interfaces
  void rebind(Interface& i);
  void detach(Interface& i);
  void device_lost(Interface& i, const std::string& why);
  void post_handshakes(Interface& i);

  // timers
  void schedule(Interface& i, Clock::Time when);
  void arm(Clock::Time when);  // timers_mu held
  void on_timer();

  // namespaces
  void open_link_watch();
  void locate(const std::shared_ptr<Interface>& i);
  // The netns id (assigned here if it had none) of the namespace `nsfd` refers to.
  int nsid_of(int nsfd);
  // The ifindex and MTU of link `name` in namespace `nsid`.
  struct LinkState {
    int ifindex = 0;
    uint32_t mtu = 0;
    bool up = false;
  };
  std::optional<LinkState> find_link(int nsid, const std::string& name);
  // The link went up or down: so does the device of an interface that follows it.
  void link_state(Interface& i, bool up);
  void unwatch(Interface& i);  // watch_mu held
};

// ---- DeviceEvents ----

void Interface::bind_changed(Device&) { engine.rebind(*this); }
void Interface::handshakes_pending(Device&) { engine.post_handshakes(*this); }
void Interface::timer_deadline_changed(Device&, Clock::Time when) { engine.schedule(*this, when); }

// ---- set-up ----

Engine::Impl::Impl(EngineOptions o) : options(std::move(o)) {
  options.device.rate_limits.max_entries = rate_limiter_entries();
  own_ns.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!own_ns) throw SystemError("engine: open own network namespace: " + errno_text(errno));
  binds = std::make_unique<EngineBinds>(own_ns, options.udp);
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
  try {
    open_link_watch();
  } catch (const std::exception& e) {
    // Then MTU changes go unnoticed (packets are still carried); deletions still are, by the TUN.
    log::warn(std::string("engine: no link watch: ") + e.what());
    links.reset();
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

// ---- sources ----

std::shared_ptr<Source> Engine::Impl::add_source(Source s) {
  auto src = std::make_shared<Source>(std::move(s));
  src->id = next_source++;
  {
    std::unique_lock lock(sources_mu);
    sources[src->id] = src;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.u64 = src->id;
  if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, src->fd, &ev) != 0) {
    const int err = errno;
    std::unique_lock lock(sources_mu);
    sources.erase(src->id);
    throw SystemError("engine: epoll_ctl ADD: " + errno_text(err));
  }
  return src;
}

void Engine::Impl::drop_source(const std::shared_ptr<Source>& s) {
  if (!s) return;
  {
    std::unique_lock lock(sources_mu);
    sources.erase(s->id);
  }
  // A worker holding an event of it re-arms with MOD afterwards: ENOENT, nothing happens.
  ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, s->fd, nullptr);
}

void Engine::Impl::rearm(const Source& s) const {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.u64 = s.id;
  ::epoll_ctl(ep.get(), EPOLL_CTL_MOD, s.fd, &ev);
}

std::shared_ptr<Source> Engine::Impl::lookup(uint64_t id) const {
  std::shared_lock lock(sources_mu);
  auto it = sources.find(id);
  return it == sources.end() ? nullptr : it->second;
}

// ---- the loop ----

void Engine::Impl::worker_main(Worker& w) {
  t_worker_of = this;
  for (;;) {
    epoll_event ev{};
    const int n = ::epoll_wait(ep.get(), &ev, 1, -1);
    if (n < 0 && errno != EINTR) {
      log::error("engine: epoll_wait: " + errno_text(errno));
      return;
    }
    if (n <= 0) continue;
    const uint64_t id = ev.data.u64;
    if (id == kStopId) return;
    try {
      if (id == kWakeId) {
        uint64_t v;
        [[maybe_unused]] auto r = ::read(wake_fd.get(), &v, sizeof v);
        run_tasks(kTasksWhenIdle);
        continue;
      }
      if (id == kTimerId) {
        on_timer();
      } else if (auto s = lookup(id)) {
        switch (s->kind) {
          case Source::Kind::kTun:
            on_tun(w, *s, ev.events);
            break;
          case Source::Kind::kUdp:
            on_udp(w, *s);
            break;
          case Source::Kind::kNetlink:
            on_netlink();
            rearm(*s);
            break;
        }
      }
      run_tasks(kTasksAfterEvent);
    } catch (const std::exception& e) {
      // Nothing here should throw; if something does, the engine keeps serving the others.
      log::error(std::string("engine: worker: ") + e.what());
    }
  }
}

void Engine::Impl::on_tun(Worker& w, Source& s, uint32_t events) {
  Interface& i = *s.iface;
  if (i.removed || i.lost) return;
  for (;;) {
    w.out.wait();  // the buffers of its last batch may still wait in a peer's queue
    auto packets = w.tun_pool.reset();
    size_t n = 0;
    bool more = false;
    std::string gone;
    {
      // EPOLLONESHOT already makes this the only reader; the lock (never contended) also says so
      // to ThreadSanitizer, which cannot see the kernel's ordering.
      std::lock_guard serial(i.tun_reader_mu);
      try {
        n = i.tun->read(packets);
      } catch (const DeviceGone& e) {
        gone = e.what();
      } catch (const std::exception& e) {
        if (events & (EPOLLERR | EPOLLHUP))
          gone = e.what();
        else
          log::warn("engine: " + i.name + ": " + e.what());
      }
      // Segments of a super-packet left over: read on without waiting (the fd will not signal).
      more = n > 0 && i.tun->has_pending();
      if (n) i.device->prepare_outbound(packets.first(n), w.out);
    }
    if (!gone.empty()) return device_lost(i, gone);
    if (!more) rearm(s);  // the next batch may be read by another worker while we encrypt
    if (n) {
      i.device->encrypt(w.out);
      i.device->complete(w.out);
    }
    if (!more) return;
  }
}

void Engine::Impl::on_udp(Worker& w, Source& s) {
  Interface& i = *s.iface;
  if (i.removed) return;
  w.in.wait();
  auto packets = w.udp_pool.reset();
  size_t n = 0;
  {
    std::lock_guard serial(i.reader_mu);
    n = s.bind->receive(packets, w.from);
    if (n) i.device->prepare_inbound(packets.first(n), {w.from.data(), n}, w.in);
  }
  rearm(s);
  if (n) {
    i.device->decrypt(w.in);
    i.device->complete(w.in);
  }
}

void Engine::Impl::run_tasks(int max_tasks) {
  // Handshakes never take every worker: under a flood of initiations the others keep carrying
  // packets, and the handshake queue backs up, which is what turns cookie replies on.
  if (handshake_runners.fetch_add(1) >= max_handshake_runners) {
    handshake_runners.fetch_sub(1);
    return;  // the runners poke again when they leave work behind
  }
  bool left = false;
  for (int k = 0; k < max_tasks; k++) {
    std::shared_ptr<Interface> i;
    {
      std::lock_guard lock(tasks_mu);
      if (handshake_tasks.empty()) break;
      i = std::move(handshake_tasks.front());
      handshake_tasks.pop_front();
      left = !handshake_tasks.empty();
    }
    i->handshakes_posted = false;  // arrivals from now on post it again
    if (i->removed) continue;
    i->device->process_handshakes(kHandshakesPerTask);
    if (i->device->pending_handshakes() > 0) {
      post_handshakes(*i);
      left = true;
    }
  }
  handshake_runners.fetch_sub(1);
  if (left) poke();  // an idle worker may go on
}

void Engine::Impl::post_handshakes(Interface& i) {
  if (i.removed || i.handshakes_posted.exchange(true)) return;
  {
    std::lock_guard lock(tasks_mu);
    if (stopping) return;
    handshake_tasks.push_back(i.shared_from_this());
  }
  poke();
}

// ---- timers ----

void Engine::Impl::schedule(Interface& i, Clock::Time when) {
  std::lock_guard lock(timers_mu);
  if (i.timers_closed || (i.timer_at && *i.timer_at <= when)) return;
  if (i.timer_at) timers.erase({*i.timer_at, &i});
  timers.insert({when, &i});
  i.timer_at = when;
  if (!armed || when < *armed) arm(when);
}

void Engine::Impl::arm(Clock::Time when) {
  armed = when;
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch());
  itimerspec spec{};
  // 0 would disarm: a deadline at (or before) the clock's epoch is simply due.
  const int64_t at = std::max<int64_t>(ns.count(), 1);
  spec.it_value.tv_sec = at / 1'000'000'000;
  spec.it_value.tv_nsec = at % 1'000'000'000;
  ::timerfd_settime(timer_fd.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
}

void Engine::Impl::on_timer() {
  uint64_t expirations;
  [[maybe_unused]] auto r = ::read(timer_fd.get(), &expirations, sizeof expirations);
  std::vector<std::shared_ptr<Interface>> due;
  {
    std::lock_guard lock(timers_mu);
    const auto now = clock.now();
    while (!timers.empty() && timers.begin()->first <= now) {
      Interface* i = timers.begin()->second;
      timers.erase(timers.begin());
      i->timer_at.reset();
      // In the set means registered (detach takes it out under this lock): alive.
      if (auto sp = i->weak_from_this().lock()) due.push_back(std::move(sp));
    }
    armed.reset();
    if (!timers.empty()) arm(timers.begin()->first);
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.u64 = kTimerId;
  ::epoll_ctl(ep.get(), EPOLL_CTL_MOD, timer_fd.get(), &ev);
  for (auto& i : due) {
    if (i->removed) continue;
    i->device->run_timers();
    // The device tells only about deadlines that moved earlier: ask for the next one.
    if (auto next = i->device->next_timer_deadline()) schedule(*i, *next);
  }
}

// ---- interfaces ----

void Engine::Impl::rebind(Interface& i) {
  std::lock_guard lock(i.sources_mu);
  if (i.removed) return;
  auto b = i.device->bind();
  if (b == i.registered_bind) return;
  for (auto& s : i.udp_sources) drop_source(s);
  i.udp_sources.clear();
  i.registered_bind = b;
  auto* udp = dynamic_cast<UdpBindLinux*>(b.get());
  if (!udp) return;
  for (int fd : {udp->fd4(), udp->fd6()}) {
    if (fd < 0) continue;
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
  {
    std::lock_guard lock(watch_mu);
    unwatch(i);
  }
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
  {
    std::lock_guard lock(watch_mu);
    unwatch(i);
  }
  i.device->down();  // nothing to carry any more: no keepalives, no handshakes
  if (options.on_lost) options.on_lost(i.name, why);
}

void Engine::add(const std::string& name, std::unique_ptr<TunLinux> tun, AddOptions options) {
  Impl& e = *impl_;
  if (!tun) throw InputError("engine: add " + name + ": no TUN device");
  if (e.stopping) throw SystemError("engine: stopped");
  if (e.find(name)) throw InputError("engine: interface " + name + " exists");
  auto i =
      std::make_shared<Interface>(e, name, std::move(tun), *e.binds, e.clock, e.options.device);
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
      Source s(Source::Kind::kTun, i->tun->fd());
      s.iface = i;
      i->tun_source = e.add_source(std::move(s));
    }
    e.locate(i);
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

InterfaceInfo Engine::info(const std::string& name) const {
  auto i = impl_->get(name);
  InterfaceInfo out;
  try {
    out.ifname = i->tun->name();
  } catch (const std::exception&) {
  }
  {
    std::lock_guard lock(impl_->watch_mu);
    out.ifindex = i->watched ? i->link.second : 0;
  }
  out.mtu = i->tun->mtu();
  out.lost = i->lost;
  out.tun = i->tun->stats();
  auto b = i->device->bind();
  if (b) out.listen_port = b->port();
  if (auto* udp = dynamic_cast<UdpBindLinux*>(b.get())) out.udp = udp->stats();
  out.counters = i->device->counters();
  return out;
}

// ---- namespaces: MTU and moves ----

void Engine::Impl::open_link_watch() {
  auto w = std::make_unique<LinkWatch>();
  w->events.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!w->events) throw SystemError("netlink socket: " + errno_text(errno));
  const int on = 1;
  if (::setsockopt(w->events.get(), SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, &on, sizeof on) != 0)
    throw SystemError("NETLINK_LISTEN_ALL_NSID: " + errno_text(errno));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK;
  if (::bind(w->events.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    throw SystemError("netlink bind: " + errno_text(errno));
  w->source = add_source(Source(Source::Kind::kNetlink, w->events.get()));
  links = std::move(w);
}

int Engine::Impl::nsid_of(int nsfd) {
  auto ask = [&](uint16_t type, int32_t want) {
    rtgenmsg g{};
    g.rtgen_family = AF_UNSPEC;
    netlink::MessageBuilder b(type, 0);
    b.fixed(g).put_u32(NETNSA_FD, static_cast<uint32_t>(nsfd));
    if (type == RTM_NEWNSID) b.put_struct(NETNSA_NSID, want);
    auto msg = b.finish();
    return links->requests.request(msg, type == RTM_NEWNSID ? "RTM_NEWNSID" : "RTM_GETNSID");
  };
  std::lock_guard lock(links->requests_mu);
  for (int attempt = 0; attempt < 2; attempt++) {
    const auto reply = ask(RTM_GETNSID, 0);
    for (const auto& m : netlink::parse_messages(reply)) {
      if (m.header.nlmsg_type != RTM_NEWNSID) continue;
      if (auto id = netlink::find_attribute(m.attributes(sizeof(rtgenmsg)), NETNSA_NSID)) {
        const auto nsid = static_cast<int32_t>(id->u32());
        if (nsid >= 0) return nsid;
      }
    }
    try {
      ask(RTM_NEWNSID, -1);  // any free id
    } catch (const netlink::NetlinkError& e) {
      if (e.error_number() != EEXIST) throw;  // assigned meanwhile: ask again
    }
  }
  throw SystemError("no netns id for a device's namespace");
}

std::optional<Engine::Impl::LinkState> Engine::Impl::find_link(int nsid, const std::string& name) {
  ifinfomsg ifi{};
  netlink::MessageBuilder b(RTM_GETLINK, 0);
  b.fixed(ifi).put_string(IFLA_IFNAME, name);
  if (nsid != kOwnNs) b.put_struct(IFLA_TARGET_NETNSID, static_cast<int32_t>(nsid));
  auto msg = b.finish();
  std::vector<uint8_t> reply;
  try {
    std::lock_guard lock(links->requests_mu);
    reply = links->requests.request(msg, "RTM_GETLINK");
  } catch (const netlink::NetlinkError&) {
    return std::nullopt;  // not there (any more)
  }
  for (const auto& m : netlink::parse_messages(reply)) {
    if (m.header.nlmsg_type != RTM_NEWLINK) continue;
    const auto attrs = m.attributes(sizeof(ifinfomsg));
    const auto mtu = netlink::find_attribute(attrs, IFLA_MTU);
    const auto ifi = m.fixed<ifinfomsg>();
    return LinkState{ifi.ifi_index, mtu ? mtu->u32() : 0u, (ifi.ifi_flags & IFF_UP) != 0};
  }
  return std::nullopt;
}

void Engine::Impl::unwatch(Interface& i) {
  if (!i.watched) return;
  i.watched = false;
  if (auto it = watched.find(i.link); it != watched.end()) {
    auto sp = it->second.lock();
    if (!sp || sp.get() == &i) watched.erase(it);
  }
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

void Engine::Impl::locate(const std::shared_ptr<Interface>& i) {
  if (!links) return;
  // The device may move again while we look: done when it is still where we found it.
  for (int attempt = 0; attempt < 3; attempt++) {
    Fd nsfd(::ioctl(i->tun->fd(), TUNGETDEVNETNS));
    const auto ns = nsfd ? ns_of_fd(nsfd.get()) : std::nullopt;
    std::string ifname;
    try {
      if (ns) ifname = i->tun->name();
    } catch (const std::exception&) {
    }
    if (!ns || ifname.empty() || i->removed || i->lost) {
      // Gone (the TUN's EPOLLERR reports that), or a kernel without TUNGETDEVNETNS.
      std::lock_guard lock(watch_mu);
      unwatch(*i);
      return;
    }
    try {
      const int nsid = ns == ns_of_fd(own_ns.get()) ? kOwnNs : nsid_of(nsfd.get());
      const auto link = find_link(nsid, ifname);
      if (!link) continue;  // renamed or moved meanwhile
      {
        std::lock_guard lock(watch_mu);
        if (i->removed) return;
        unwatch(*i);
        i->link = {nsid, link->ifindex};
        i->watched = true;
        watched[i->link] = i;
      }
      if (link->mtu) i->tun->note_mtu(link->mtu);
      link_state(*i, link->up);
    } catch (const std::exception& e) {
      log::debug("engine: " + i->name + ": cannot watch its link: " + e.what());
      return;
    }
    Fd again(::ioctl(i->tun->fd(), TUNGETDEVNETNS));
    if (again && ns_of_fd(again.get()) == ns) return;
  }
}

void Engine::Impl::on_netlink() {
  alignas(nlmsghdr) uint8_t buf[16384];
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(int))];
  std::vector<std::shared_ptr<Interface>> relocate;
  bool resync = false;
  for (;;) {
    iovec iov{buf, sizeof buf};
    sockaddr_nl from{};
    msghdr h{};
    h.msg_name = &from;
    h.msg_namelen = sizeof from;
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = control;
    h.msg_controllen = sizeof control;
    const ssize_t r = ::recvmsg(links->events.get(), &h, MSG_DONTWAIT);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == ENOBUFS) {
      resync = true;  // events were lost: look at every device again
      continue;
    }
    if (r <= 0) break;
    // Any process of the namespace can send to this socket's port: only the kernel's (port 0)
    // link events are believed, or one could take a device down or change its MTU.
    if (h.msg_namelen < sizeof from || from.nl_pid != 0) continue;
    int nsid = kOwnNs;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c))
      if (c->cmsg_level == SOL_NETLINK && c->cmsg_type == NETLINK_LISTEN_ALL_NSID)
        std::memcpy(&nsid, CMSG_DATA(c), sizeof nsid);
    try {
      for (const auto& m : netlink::parse_messages({buf, static_cast<size_t>(r)})) {
        const auto type = m.header.nlmsg_type;
        if (type != RTM_NEWLINK && type != RTM_DELLINK) continue;
        const LinkKey key{nsid, m.fixed<ifinfomsg>().ifi_index};
        std::shared_ptr<Interface> i;
        {
          std::lock_guard lock(watch_mu);
          if (auto it = watched.find(key); it != watched.end()) i = it->second.lock();
        }
        if (!i) continue;
        if (type == RTM_DELLINK) {
          relocate.push_back(i);  // moved to another namespace, or deleted
          continue;
        }
        if (auto mtu = netlink::find_attribute(m.attributes(sizeof(ifinfomsg)), IFLA_MTU))
          i->tun->note_mtu(mtu->u32());
        link_state(*i, (m.fixed<ifinfomsg>().ifi_flags & IFF_UP) != 0);
      }
    } catch (const std::exception& e) {
      log::debug(std::string("engine: netlink: ") + e.what());
    }
  }
  if (resync) {
    std::lock_guard lock(watch_mu);
    for (auto& [key, weak] : watched)
      if (auto i = weak.lock()) relocate.push_back(i);
  }
  for (auto& i : relocate) locate(i);
}

}  // namespace wgnet::engine
