// The one metrics registry of a wgnetd: counters, gauges and histograms with labels, safe to
// update from any thread, plus collectors that compute families at each scrape (device counters
// read from the backends). Made by the daemon and handed to whoever records something.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/exposition.h"

namespace wgnet::metrics {

class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `bounds`: the upper bounds of the buckets, ascending; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  // Taken under the lock observe() takes, so count always equals the +Inf bucket.
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; the last is +Inf
  double sum_ = 0;
};

// A metric with label names, and one child per combination of label values seen.
template <typename T>
class Family {
 public:
  using Factory = std::function<std::unique_ptr<T>()>;
  Family(std::vector<std::string> label_names, Factory make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}

  // The child for `values` (one per label name, in order), made on first use. The reference
  // stays valid for the registry's lifetime. Throws std::invalid_argument on a wrong count.
  T& with(const std::vector<std::string>& values);
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Every child with its label values, in label order.
  std::vector<std::pair<std::vector<std::string>, const T*>> children() const;

 private:
  const std::vector<std::string> label_names_;
  const Factory make_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

class Registry {
 public:
  // The family of that name, registered on first use. Asking again with the same type and label
  // names returns the same family; anything else is a programming error (std::logic_error), as is
  // a name the format does not allow.
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           const std::vector<std::string>& label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       const std::vector<std::string>& label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               const std::vector<std::string>& label_names,
                               const std::vector<double>& bounds);

  // Called at every scrape, after the registered families; its families are written as returned.
  // It must not throw (what it cannot read, it leaves out) and must not call back into render().
  using Collector = std::function<std::vector<FamilySnapshot>()>;
  void add_collector(Collector collector);

  // Every family now: registered ones by name, then the collectors' in the order added.
  std::vector<FamilySnapshot> collect() const;
  std::string render() const { return metrics::render(collect()); }

 private:
  struct Entry {
    Type type;
    std::string help;
    std::vector<std::string> label_names;
    std::shared_ptr<void> family;  // Family<Counter|Gauge|Histogram>, by type
    std::function<std::vector<Sample>()> samples;
  };
  template <typename T>
  Family<T>& add(const std::string& name, const std::string& help, Type type,
                 const std::vector<std::string>& label_names, typename Family<T>::Factory make);

  mutable std::mutex mutex_;
  std::map<std::string, Entry> families_;
  std::vector<Collector> collectors_;
};

// Buckets for the latency of libnetwork calls, in seconds: a millisecond up to the handler
// timeout's range.
std::vector<double> latency_buckets();

}  // namespace wgnet::metrics
