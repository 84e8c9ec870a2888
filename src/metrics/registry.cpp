// Families keep their children in maps of unique_ptr, so a child's address never changes and
// callers may keep the reference `with()` returns while other children are added.
#include "metrics/registry.h"

#include <algorithm>
#include <stdexcept>

namespace wgnet::metrics {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end())
    throw std::logic_error("histogram bounds must be strictly ascending");
}

void Histogram::observe(double v) {
  // The first bucket whose bound is >= v ("le"); past the last bound, +Inf.
  size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  std::lock_guard lock(mutex_);
  counts_[i]++;
  sum_ += v;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  std::lock_guard lock(mutex_);
  uint64_t running = 0;
  for (uint64_t c : counts_) {
    running += c;
    s.cumulative.push_back(running);
  }
  s.sum = sum_;
  s.count = running;
  return s;
}

template <typename T>
T& Family<T>::with(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size())
    throw std::invalid_argument("metric child needs " + std::to_string(label_names_.size()) +
                                " label value(s), got " + std::to_string(values.size()));
  std::lock_guard lock(mutex_);
  auto& child = children_[values];
  if (!child) child = make_();
  return *child;
}

template <typename T>
std::vector<std::pair<std::vector<std::string>, const T*>> Family<T>::children() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::vector<std::string>, const T*>> out;
  for (const auto& [values, child] : children_) out.emplace_back(values, child.get());
  return out;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

namespace {

LabelPairs pairs(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  LabelPairs out;
  for (size_t i = 0; i < names.size(); ++i) out.emplace_back(names[i], values[i]);
  return out;
}

}  // namespace

template <typename T>
Family<T>& Registry::add(const std::string& name, const std::string& help, Type type,
                         const std::vector<std::string>& label_names,
                         typename Family<T>::Factory make) {
  if (!valid_metric_name(name)) throw std::logic_error("invalid metric name '" + name + "'");
  for (const auto& l : label_names)
    if (!valid_label_name(l) || (type == Type::kHistogram && l == "le"))
      throw std::logic_error("invalid label name '" + l + "' of metric " + name);
  std::lock_guard lock(mutex_);
  if (auto it = families_.find(name); it != families_.end()) {
    if (it->second.type != type || it->second.label_names != label_names)
      throw std::logic_error("metric " + name + " registered twice, differently");
    return *static_cast<Family<T>*>(it->second.family.get());
  }
  auto family = std::make_shared<Family<T>>(label_names, std::move(make));
  Entry e{type, help, label_names, family, {}};
  Family<T>* f = family.get();
  e.samples = [f, label_names] {
    std::vector<Sample> out;
    for (const auto& [values, child] : f->children()) {
      if constexpr (std::is_same_v<T, Histogram>) {
        auto snap = child->snapshot();
        const auto& bounds = child->bounds();
        for (size_t i = 0; i < snap.cumulative.size(); ++i) {
          LabelPairs labels = pairs(label_names, values);
          labels.emplace_back("le", i < bounds.size() ? format_value(bounds[i]) : "+Inf");
          out.push_back({"_bucket", std::move(labels), static_cast<double>(snap.cumulative[i])});
        }
        out.push_back({"_sum", pairs(label_names, values), snap.sum});
        out.push_back({"_count", pairs(label_names, values), static_cast<double>(snap.count)});
      } else {
        out.push_back({"", pairs(label_names, values), static_cast<double>(child->value())});
      }
    }
    return out;
  };
  families_.emplace(name, std::move(e));
  return *f;
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   const std::vector<std::string>& label_names) {
  return add<Counter>(name, help, Type::kCounter, label_names,
                      [] { return std::make_unique<Counter>(); });
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               const std::vector<std::string>& label_names) {
  return add<Gauge>(name, help, Type::kGauge, label_names,
                    [] { return std::make_unique<Gauge>(); });
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       const std::vector<std::string>& label_names,
                                       const std::vector<double>& bounds) {
  Histogram check(bounds);  // refuses bad bounds at registration, not at first use
  return add<Histogram>(name, help, Type::kHistogram, label_names,
                        [bounds] { return std::make_unique<Histogram>(bounds); });
}

void Registry::add_collector(Collector collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collector));
}

std::vector<FamilySnapshot> Registry::collect() const {
  std::vector<FamilySnapshot> out;
  std::vector<Collector> collectors;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, e] : families_) out.push_back({name, e.help, e.type, e.samples()});
    collectors = collectors_;
  }
  // Outside the lock: a collector may take long (it reads devices) and may record metrics.
  for (const auto& c : collectors) {
    auto families = c();
    out.insert(out.end(), std::make_move_iterator(families.begin()),
               std::make_move_iterator(families.end()));
  }
  return out;
}

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace wgnet::metrics
