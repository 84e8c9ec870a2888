// The table's mutex guards the map and every record; an entry's own mutex guards an operation.
// The table's mutex is never held while waiting for an entry's, so the two cannot deadlock.
#include "driver/endpoints.h"

#include <stdexcept>

namespace wgnet::driver {

EndpointTable::Entry EndpointTable::find(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : it->second;
}

std::pair<EndpointTable::Entry, std::unique_lock<std::mutex>> EndpointTable::insert_creating(
    const EndpointRecord& record) {
  std::lock_guard lock(mutex_);
  if (entries_.count(record.endpoint_id)) return {Entry(), std::unique_lock<std::mutex>()};
  auto e = std::make_shared<EndpointEntry>();
  e->record = record;
  // A new mutex nobody else can see yet: try_lock takes it at once. (A blocking lock here would
  // order "table, then entry" while update() orders "entry, then table": harmless for a mutex
  // not yet published, but ThreadSanitizer reports the cycle; a try-lock orders nothing.)
  std::unique_lock op(e->op, std::try_to_lock);
  if (!op.owns_lock()) throw std::logic_error("a new endpoint's mutex is taken");
  entries_[record.endpoint_id] = e;
  return {e, std::move(op)};
}

void EndpointTable::insert_ready(const EndpointRecord& record) {
  std::lock_guard lock(mutex_);
  auto e = std::make_shared<EndpointEntry>();
  e->record = record;
  e->phase = EndpointEntry::Phase::kReady;
  entries_[record.endpoint_id] = e;
}

void EndpointTable::erase(const Entry& entry) {
  std::lock_guard lock(mutex_);
  entry->phase = EndpointEntry::Phase::kGone;
  auto it = entries_.find(entry->record.endpoint_id);
  if (it != entries_.end() && it->second == entry) entries_.erase(it);
}

EndpointRecord EndpointTable::record(const Entry& entry) const {
  std::lock_guard lock(mutex_);
  return entry->record;
}

void EndpointTable::update(const Entry& entry, const std::function<void(EndpointRecord&)>& change) {
  std::lock_guard lock(mutex_);
  change(entry->record);
}

std::vector<EndpointRecord> EndpointTable::records() const {
  std::lock_guard lock(mutex_);
  std::vector<EndpointRecord> out;
  for (const auto& [id, e] : entries_) out.push_back(e->record);
  return out;
}

std::optional<std::string> EndpointTable::by_ifname(const std::string& ifname) const {
  std::lock_guard lock(mutex_);
  for (const auto& [id, e] : entries_)
    if (e->record.ifname == ifname) return id;
  return std::nullopt;
}

bool EndpointTable::ifname_taken(const std::string& ifname) const {
  return by_ifname(ifname).has_value();
}

size_t EndpointTable::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace wgnet::driver
