// Every device's timers on one timerfd: the earliest deadline of all interfaces is armed; the
// worker that reads it runs the due devices' timers.
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "engine/linux/engine_impl.h"

namespace wgnet::engine {

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
  // Relative to the engine's clock, which need not be CLOCK_MONOTONIC (a test's fake one).
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(when - clock.now());
  itimerspec spec{};
  // 0 would disarm: a deadline now (or past) is simply due.
  const int64_t in = std::max<int64_t>(ns.count(), 1);
  spec.it_value.tv_sec = in / 1'000'000'000;
  spec.it_value.tv_nsec = in % 1'000'000'000;
  ::timerfd_settime(timer_fd.get(), 0, &spec, nullptr);
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

}  // namespace wgnet::engine
