// The engine's event loop: workers sharing one epoll set whose descriptors are EPOLLONESHOT (one
// reader per fd at a time), the three-stage data path of device.h around them, and a task queue
// for handshakes.
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

#include "engine/linux/engine_impl.h"
#include "util/error.h"
#include "util/log.h"

namespace wgnet::engine {

namespace {

// Handshake messages one task processes before it yields to the data path (and re-queues): a
// few hundred microseconds of X25519 at most.
constexpr size_t kHandshakesPerTask = 4;
// Tasks a worker runs after an I/O event, and when woken for tasks alone.
constexpr int kTasksAfterEvent = 1;
constexpr int kTasksWhenIdle = 16;

}  // namespace

thread_local const void* t_worker_of = nullptr;

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
            links->on_readable();
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

}  // namespace wgnet::engine
