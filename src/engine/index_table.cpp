// Random indices (not counters) so an observer learns nothing from them and a peer cannot guess
// the index of another peer's session.
#include "engine/index_table.h"

#include <mutex>

#include "crypto/random.h"

namespace wgnet::engine {

uint32_t IndexTable::add_handshake(std::shared_ptr<Peer> peer) {
  std::unique_lock lock(mu_);
  for (;;) {
    const uint32_t index = crypto::random_u32();
    if (index == 0 || table_.count(index)) continue;  // 0 means "none" in Handshake
    table_.emplace(index, Entry{std::move(peer), nullptr});
    return index;
  }
}

void IndexTable::set_keypair(uint32_t index, KeypairPtr keypair) {
  std::unique_lock lock(mu_);
  auto it = table_.find(index);
  if (it != table_.end()) it->second.keypair = std::move(keypair);
}

void IndexTable::remove(uint32_t index) {
  std::unique_lock lock(mu_);
  table_.erase(index);
}

std::optional<IndexTable::Entry> IndexTable::lookup(uint32_t index) const {
  std::shared_lock lock(mu_);
  auto it = table_.find(index);
  if (it == table_.end()) return std::nullopt;
  return it->second;
}

size_t IndexTable::size() const {
  std::shared_lock lock(mu_);
  return table_.size();
}

}  // namespace wgnet::engine
