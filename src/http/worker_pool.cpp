// The handler threads: queueing, starting threads on demand, replacing abandoned ones, stopping.
#include "http/worker_pool.h"

#include <algorithm>
#include <system_error>

#include "util/log.h"

namespace wgnet::http {

struct WorkerPool::Ticket {
  enum class State { kQueued, kRunning, kFinished, kDropped };
  Job job;  // empty once taken, so a ticket held after the fact keeps nothing alive
  State state = State::kQueued;
  bool abandoned = false;
};

WorkerPool::WorkerPool(unsigned threads, std::size_t max_queued)
    : threads_(std::max(threads, 1u)), max_threads_(2 * threads_), max_queued_(max_queued) {}

WorkerPool::~WorkerPool() {
  stop();
  join();
}

std::shared_ptr<WorkerPool::Ticket> WorkerPool::submit(Job job) {
  // Declared before the lock, so a refused job is destroyed after the mutex is released: its
  // captures may be anything.
  auto ticket = std::make_shared<Ticket>();
  ticket->job = std::move(job);
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= max_queued_ + startable()) return nullptr;
    queue_.push_back(ticket);
    start_threads();
  }
  changed_.notify_one();
  return ticket;
}

WorkerPool::Fate WorkerPool::abandon(const std::shared_ptr<Ticket>& ticket) {
  Job dropped;  // destroyed after the lock is released
  {
    std::lock_guard lock(mutex_);
    switch (ticket->state) {
      case Ticket::State::kQueued:
        std::erase(queue_, ticket);
        ticket->state = Ticket::State::kDropped;
        dropped = std::move(ticket->job);
        return Fate::kDropped;
      case Ticket::State::kRunning:
        if (!ticket->abandoned) {
          ticket->abandoned = true;
          ++abandoned_;
          start_threads();
        }
        break;
      case Ticket::State::kFinished:
      case Ticket::State::kDropped:
        return Fate::kFinished;
    }
  }
  // A job slot has come free: a waiting thread may take the next job.
  changed_.notify_one();
  return Fate::kRunning;
}

std::size_t WorkerPool::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

std::size_t WorkerPool::threads() const {
  std::lock_guard lock(mutex_);
  return workers_.size();
}

void WorkerPool::stop() {
  std::vector<Job> dropped;  // destroyed after the lock is released
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& ticket : queue_) {
      ticket->state = Ticket::State::kDropped;
      dropped.push_back(std::move(ticket->job));
    }
    queue_.clear();
  }
  changed_.notify_all();
}

void WorkerPool::join() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(workers_);
  }
  for (auto& thread : threads) thread.join();
}

void WorkerPool::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(
        lock, [&] { return stopping_ || (!queue_.empty() && running_ - abandoned_ < threads_); });
    if (stopping_) return;
    auto ticket = std::move(queue_.front());
    queue_.pop_front();
    ticket->state = Ticket::State::kRunning;
    ++running_;
    Job job = std::move(ticket->job);
    lock.unlock();
    job();
    job = nullptr;
    lock.lock();
    --running_;
    if (ticket->abandoned) --abandoned_;
    ticket->state = Ticket::State::kFinished;
  }
}

std::size_t WorkerPool::slots() const {
  return threads_ + abandoned_ > running_ ? threads_ + abandoned_ - running_ : 0;
}

std::size_t WorkerPool::startable() const {
  // Each thread not running a job, started or still to start, can take one.
  return std::min(slots(), max_threads_ - running_);
}

void WorkerPool::start_threads() {
  if (stopping_) return;
  // Threads not running a job will each take one; start more only for jobs that may run now.
  const std::size_t wanted = std::min(queue_.size(), slots());
  while (workers_.size() - running_ < wanted && workers_.size() < max_threads_) {
    try {
      workers_.emplace_back([this] { work(); });
    } catch (const std::system_error& e) {
      // Out of threads: the jobs wait for the ones there are (or their deadline).
      log::error(std::string("cannot start a handler thread: ") + e.what());
      return;
    }
  }
}

}  // namespace wgnet::http
