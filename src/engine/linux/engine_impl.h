// The engine's private parts, shared by the files that implement it, one concern each:
// engine.cpp (set-up, interfaces, what link events mean for them, and the public API),
// event_loop.cpp (the workers around one epoll set, the data path, handshake tasks) and
// deadlines.cpp (one timerfd for every device's timers). The link watch (link_watch.h) is a class
// of its own that reports LinkEvents to each Interface. Nobody else includes this file: engine.h
// is the engine's interface.
#pragma once
#include <atomic>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/linux/engine.h"
#include "engine/linux/link_watch.h"
#include "engine/linux/packet_pool.h"

namespace wgnet::engine {

// epoll data of the engine's own descriptors; sources count up from kFirstSource.
inline constexpr uint64_t kStopId = 1, kWakeId = 2, kTimerId = 3, kFirstSource = 16;

// The engine whose worker this thread is (remove() must not wait for itself there).
extern thread_local const void* t_worker_of;

// Signals a promise when destroyed: as an object's first member, once everything else is gone.
struct DoneSignal {
  std::promise<void> promise;
  ~DoneSignal() { promise.set_value(); }
};

struct Interface;
class EngineBinds;

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

struct Worker {
  explicit Worker(size_t batch) : tun_pool(batch), udp_pool(batch), from(batch) {}
  PacketPool tun_pool, udp_pool;
  OutboundBatch out;
  InboundBatch in;
  std::vector<NetEndpoint> from;
  std::thread thread;
};

struct Interface final : DeviceEvents, LinkListener, std::enable_shared_from_this<Interface> {
  Interface(Engine::Impl& e, std::string n, std::unique_ptr<Tun> t,
            std::shared_ptr<BindFactory> b, const Clock& clock, const DeviceOptions& options)
      : engine(e), name(std::move(n)), tun(std::move(t)), binds(std::move(b)) {
    device = std::make_unique<Device>(*tun, *binds, clock, options, this);
  }

  void bind_changed(Device&) override;
  void handshakes_pending(Device&) override;
  void timer_deadline_changed(Device&, Clock::Time when) override;
  void link_changed(const LinkEvents& events) override;

  DoneSignal done;  // first: signalled after every member below is destroyed
  Engine::Impl& engine;
  const std::string name;
  std::unique_ptr<Tun> tun;
  std::shared_ptr<BindFactory> binds;
  std::unique_ptr<Device> device;  // after tun and binds: destroyed before them

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
  std::atomic<int> ifindex{0};  // where the link watch last saw the device (0: not watched)
};

struct Engine::Impl {
  explicit Impl(EngineOptions o);

  EngineOptions options;
  SystemClock system_clock;
  const Clock& clock;  // options.clock or system_clock
  Fd own_ns;
  std::shared_ptr<EngineBinds> binds;  // interfaces' binds when AddOptions has none
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

  std::unique_ptr<LinkWatch> links;  // null: no link watch (EngineOptions, or refused)
  std::shared_ptr<Source> links_source;

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
  void arm(Clock::Time when);  // timers_mu held; `when` on clock, armed relative to its now()
  void on_timer();

  // links
  void open_link_watch();
  // The link went up or down: so does the device of an interface that follows it.
  void link_state(Interface& i, bool up);
};

}  // namespace wgnet::engine
