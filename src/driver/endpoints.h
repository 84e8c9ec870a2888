// The endpoint table: one entry per endpoint wgnet knows, holding its record and the lock that
// serialises every operation on it (a retried CreateEndpoint waits for the first). Entries exist
// only for endpoints that exist or are being created, so requests for unknown IDs cost nothing.
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "driver/state.h"

namespace wgnet::driver {

struct EndpointEntry {
  std::mutex op;  // held for the whole of an operation on this endpoint
  enum class Phase { kCreating, kReady, kGone } phase = EndpointEntry::Phase::kCreating;
  bool completed_here = false;  // this process completed (or re-applied) its device
  // Docker creates the container's namespace file after Join (when runc calls back), so a missing
  // sandbox means "gone" only once it was seen to exist, or long after Join.
  bool sandbox_seen = false;
  std::chrono::steady_clock::time_point joined_at{};
  EndpointRecord record;        // read and written under the table's mutex (see EndpointTable)
};

class EndpointTable {
 public:
  using Entry = std::shared_ptr<EndpointEntry>;

  // The entry of `id`, or null.
  Entry find(const std::string& id) const;
  // Adds `record` as a new entry in the creating phase and returns it with its operation lock
  // held; when `record.endpoint_id` is taken, returns null (the caller waits on that entry).
  std::pair<Entry, std::unique_lock<std::mutex>> insert_creating(const EndpointRecord& record);
  // Adds a ready entry (restored from the state store).
  void insert_ready(const EndpointRecord& record);
  // Removes the entry (held by the caller's operation lock) and marks it gone for waiters.
  void erase(const Entry& entry);

  EndpointRecord record(const Entry& entry) const;
  void update(const Entry& entry, const std::function<void(EndpointRecord&)>& change);
  std::vector<EndpointRecord> records() const;
  // The endpoint whose device has this host-side name.
  std::optional<std::string> by_ifname(const std::string& ifname) const;
  bool ifname_taken(const std::string& ifname) const;
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

}  // namespace wgnet::driver
