// The threads handlers run on: a bounded queue, and room to replace threads held by handlers past
// their deadline, so a few stuck handlers cannot take the whole pool. Internal to the HTTP layer.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace wgnet::http {

class WorkerPool {
 public:
  using Job = std::function<void()>;
  // One submitted job, for abandon(); opaque to everyone but the pool.
  struct Ticket;
  // What abandon() found.
  enum class Fate { kDropped, kRunning, kFinished };

  // Up to `threads` jobs run at once, on threads started when work arrives. A job given up on
  // while it runs (abandon) stops counting against `threads`, so up to `threads` more threads
  // may start in place of stuck ones; after that, jobs wait. At most `max_queued` jobs wait.
  // Threads, once started, stay until join().
  WorkerPool(unsigned threads, std::size_t max_queued);
  // stop() and join().
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job`; nullptr, and `job` dropped, when it could not start at once and `max_queued`
  // jobs already wait, or the pool has stopped. The job must not throw. Thread-safe.
  std::shared_ptr<Ticket> submit(Job job);
  // The caller no longer waits for the job: a queued one is dropped and never runs; a running
  // one no longer counts against `threads`. Thread-safe.
  Fate abandon(const std::shared_ptr<Ticket>& ticket);
  // Jobs running now, abandoned ones included. Thread-safe.
  std::size_t running() const;
  // Threads started so far. Thread-safe.
  std::size_t threads() const;
  // Drops the queued jobs and refuses new ones. Thread-safe.
  void stop();
  // Waits for the running jobs and their threads; after stop(), and not from a job.
  void join();

 private:
  void work();
  // The rest with mutex_ held.
  void start_threads();
  // Jobs that may run beside the running ones: `threads`, plus one per abandoned job.
  std::size_t slots() const;
  // Jobs that would start at once: they do not count as waiting.
  std::size_t startable() const;

  const unsigned threads_;
  const unsigned max_threads_;
  const std::size_t max_queued_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;  // work queued, a job slot freed, or stopping
  std::deque<std::shared_ptr<Ticket>> queue_;
  std::vector<std::thread> workers_;
  std::size_t running_ = 0;    // jobs in progress
  std::size_t abandoned_ = 0;  // of which abandoned
  bool stopping_ = false;
};

}  // namespace wgnet::http
