// The handler lanes' thread pool without sockets: how many jobs run, how many wait, what
// abandoning a job does; and the throttle that rate-limits refusal warnings.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "http/worker_pool.h"

using namespace wgnet::http;
using namespace std::chrono_literals;

namespace {

constexpr auto kPatience = 10s;

// Jobs that block until the test lets them go, and count how many have started.
class Jobs {
 public:
  WorkerPool::Job blocking() {
    return [this] {
      std::unique_lock lock(mutex_);
      ++started_;
      changed_.notify_all();
      changed_.wait_for(lock, kPatience, [&] { return released_; });
    };
  }
  bool wait_started(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kPatience, [&] { return started_ >= count; });
  }
  int started() {
    std::lock_guard lock(mutex_);
    return started_;
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int started_ = 0;
  bool released_ = false;
};

}  // namespace

TEST(HttpWorkerPool, QueuesAtMostMaxQueuedBesideTheJobsThatCanStart) {
  Jobs jobs;
  WorkerPool pool(2, 1);
  EXPECT_TRUE(pool.submit(jobs.blocking()));
  EXPECT_TRUE(pool.submit(jobs.blocking()));
  ASSERT_TRUE(jobs.wait_started(2));
  EXPECT_TRUE(pool.submit(jobs.blocking()));   // waits
  EXPECT_FALSE(pool.submit(jobs.blocking()));  // past the bound
  jobs.release();
  pool.stop();
  pool.join();
}

TEST(HttpWorkerPool, ReplacesAbandonedJobsUpToAsManyThreadsAgain) {
  Jobs jobs;
  WorkerPool pool(1, 4);
  auto first = pool.submit(jobs.blocking());
  ASSERT_TRUE(jobs.wait_started(1));
  auto waiting = pool.submit(jobs.blocking());
  ASSERT_TRUE(waiting);

  // Giving up on the running job lets the waiting one start on a new thread.
  EXPECT_EQ(pool.abandon(first), WorkerPool::Fate::kRunning);
  ASSERT_TRUE(jobs.wait_started(2));
  EXPECT_EQ(pool.abandon(waiting), WorkerPool::Fate::kRunning);

  // Two threads for a pool of one: no third, however many are abandoned.
  std::atomic<bool> ran = false;
  auto third = pool.submit([&] { ran = true; });
  ASSERT_TRUE(third);
  EXPECT_EQ(pool.threads(), 2u);
  EXPECT_EQ(pool.abandon(third), WorkerPool::Fate::kDropped);

  jobs.release();
  pool.stop();
  pool.join();
  EXPECT_FALSE(ran);
  EXPECT_EQ(jobs.started(), 2);
}

TEST(HttpWorkerPool, AbandoningAFinishedJobChangesNothing) {
  WorkerPool pool(1, 4);
  auto first = pool.submit([] {});
  Jobs jobs;
  ASSERT_TRUE(pool.submit(jobs.blocking()));
  // One thread: the second job starts only once the first has finished.
  ASSERT_TRUE(jobs.wait_started(1));
  EXPECT_EQ(pool.abandon(first), WorkerPool::Fate::kFinished);
  EXPECT_EQ(pool.running(), 1u);
  jobs.release();
  pool.stop();
  pool.join();
}

TEST(HttpWorkerPool, StopDropsWaitingJobsAndRefusesNewOnes) {
  Jobs jobs;
  WorkerPool pool(1, 4);
  ASSERT_TRUE(pool.submit(jobs.blocking()));
  ASSERT_TRUE(jobs.wait_started(1));
  std::atomic<bool> ran = false;
  ASSERT_TRUE(pool.submit([&] { ran = true; }));
  pool.stop();
  EXPECT_FALSE(pool.submit([&] { ran = true; }));
  jobs.release();
  pool.join();
  EXPECT_FALSE(ran);
}
