// Receiver indices: the random 32-bit numbers a peer puts in its messages to us, mapped back to
// the peer and, once a handshake completes, the keypair. One table per device.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <unordered_map>

#include "engine/keypair.h"

namespace wgnet::engine {

class Peer;

class IndexTable {
 public:
  struct Entry {
    std::shared_ptr<Peer> peer;
    KeypairPtr keypair;  // null while the index names a handshake in progress
  };
  // A fresh random index, unused in the table, naming a handshake of `peer`.
  uint32_t add_handshake(std::shared_ptr<Peer> peer);
  // The handshake's index now names its keypair (the same number goes in the transport header).
  void set_keypair(uint32_t index, KeypairPtr keypair);
  void remove(uint32_t index);
  std::optional<Entry> lookup(uint32_t index) const;
  size_t size() const;

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<uint32_t, Entry> table_;
};

}  // namespace wgnet::engine
