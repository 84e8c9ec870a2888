// Cryptokey routing: which peer owns an inner IP address. A path-compressed binary trie per
// address family gives the longest matching prefix; the same table answers "which peer do I
// encrypt to" (destination) and "may this peer send from here" (source).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "util/ip.h"

namespace wgnet::engine {

// The untyped trie behind AllowedIps<T>: values are opaque non-null pointers. Not thread-safe; the
// device guards it with its configuration lock (readers shared, writers exclusive).
class PrefixTrie {
 public:
  PrefixTrie();
  ~PrefixTrie();
  PrefixTrie(PrefixTrie&&) noexcept;
  PrefixTrie& operator=(PrefixTrie&&) noexcept;

  // Maps the prefix (host bits ignored) to value, replacing the owner of an identical prefix.
  void insert(const Cidr& prefix, void* value);
  // Removes the prefix if value owns it; true when it did.
  bool remove(const Cidr& prefix, void* value);
  // Removes every prefix value owns.
  void remove_all(void* value);
  void clear();
  // Longest-prefix match for an address of 4 or 16 bytes (network order); null when none.
  void* lookup(std::span<const uint8_t> address) const;
  // Every prefix with its owner, parents before children, lower addresses first.
  void for_each(const std::function<void(const Cidr&, void*)>& fn) const;
  size_t size() const { return size_; }

  struct Node;  // defined in allowedips.cpp

 private:
  std::unique_ptr<Node> v4_, v6_;
  size_t size_ = 0;
};

template <typename T>
class AllowedIps {
 public:
  void insert(const Cidr& prefix, T* owner) { trie_.insert(prefix, owner); }
  bool remove(const Cidr& prefix, T* owner) { return trie_.remove(prefix, owner); }
  void remove_all(T* owner) { trie_.remove_all(owner); }
  void clear() { trie_.clear(); }
  T* lookup(std::span<const uint8_t> address) const {
    return static_cast<T*>(trie_.lookup(address));
  }
  T* lookup(const IpAddress& address) const { return lookup(address.bytes()); }
  std::vector<Cidr> entries(const T* owner) const {
    std::vector<Cidr> out;
    trie_.for_each([&](const Cidr& c, void* v) {
      if (v == owner) out.push_back(c);
    });
    return out;
  }
  void for_each(const std::function<void(const Cidr&, T*)>& fn) const {
    trie_.for_each([&](const Cidr& c, void* v) { fn(c, static_cast<T*>(v)); });
  }
  size_t size() const { return trie_.size(); }

 private:
  PrefixTrie trie_;
};

}  // namespace wgnet::engine
