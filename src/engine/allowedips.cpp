// The compressed trie: a node holds a masked prefix; its children continue with the next bit.
// Insertion splits an edge where two prefixes diverge; removal collapses nodes left without a
// value and with fewer than two children, so the trie never keeps dead branches.
#include "engine/allowedips.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace wgnet::engine {

struct PrefixTrie::Node {
  std::array<uint8_t, 16> key{};  // the prefix, host bits zero
  uint8_t bits = 0;               // prefix length
  void* value = nullptr;
  std::unique_ptr<Node> child[2];
};

namespace {

using NodePtr = std::unique_ptr<PrefixTrie::Node>;

int bit_at(const uint8_t* key, unsigned i) { return (key[i / 8] >> (7 - i % 8)) & 1; }

// Number of leading bits a and b share, at most `limit`.
unsigned common_bits(const uint8_t* a, const uint8_t* b, unsigned limit) {
  unsigned n = 0;
  while (n < limit) {
    const uint8_t diff = a[n / 8] ^ b[n / 8];
    if (diff == 0) {
      n += 8;
      continue;
    }
    n += static_cast<unsigned>(__builtin_clz(diff)) - 24;
    break;
  }
  return std::min(n, limit);
}

std::array<uint8_t, 16> masked(std::span<const uint8_t> address, unsigned bits) {
  std::array<uint8_t, 16> key{};
  std::copy(address.begin(), address.end(), key.begin());
  for (unsigned i = 0; i < key.size() * 8; i++)
    if (i >= bits) key[i / 8] &= static_cast<uint8_t>(~(0x80u >> (i % 8)));
  return key;
}

NodePtr make_node(const std::array<uint8_t, 16>& key, unsigned bits, void* value) {
  auto n = std::make_unique<PrefixTrie::Node>();
  n->key = masked(key, bits);
  n->bits = static_cast<uint8_t>(bits);
  n->value = value;
  return n;
}

// A node that holds no value and leads to at most one subtree is replaced by that subtree.
void collapse(NodePtr& slot) {
  auto& n = *slot;
  if (n.value) return;
  if (!n.child[0] && !n.child[1])
    slot.reset();
  else if (!n.child[0] || !n.child[1])
    slot = std::move(n.child[0] ? n.child[0] : n.child[1]);
}

bool remove_at(NodePtr& slot, const std::array<uint8_t, 16>& key, unsigned bits, void* value) {
  if (!slot) return false;
  auto& n = *slot;
  if (n.bits > bits || common_bits(n.key.data(), key.data(), n.bits) < n.bits) return false;
  bool removed = false;
  if (n.bits == bits) {
    if (n.value != value) return false;
    n.value = nullptr;
    removed = true;
  } else {
    removed = remove_at(n.child[bit_at(key.data(), n.bits)], key, bits, value);
  }
  if (removed) collapse(slot);
  return removed;
}

size_t remove_all_at(NodePtr& slot, void* value) {
  if (!slot) return 0;
  size_t n = remove_all_at(slot->child[0], value) + remove_all_at(slot->child[1], value);
  if (slot->value == value) {
    slot->value = nullptr;
    n++;
  }
  collapse(slot);
  return n;
}

void walk(const NodePtr& slot, size_t length, const std::function<void(const Cidr&, void*)>& fn) {
  if (!slot) return;
  if (slot->value)
    fn(Cidr(IpAddress::from_bytes({slot->key.data(), length}), slot->bits), slot->value);
  walk(slot->child[0], length, fn);
  walk(slot->child[1], length, fn);
}

}  // namespace

PrefixTrie::PrefixTrie() = default;
PrefixTrie::~PrefixTrie() = default;
PrefixTrie::PrefixTrie(PrefixTrie&&) noexcept = default;
PrefixTrie& PrefixTrie::operator=(PrefixTrie&&) noexcept = default;

void PrefixTrie::insert(const Cidr& prefix, void* value) {
  const unsigned bits = static_cast<unsigned>(prefix.prefix());
  const auto key = masked(prefix.address().bytes(), bits);
  NodePtr* slot = prefix.address().is_v4() ? &v4_ : &v6_;
  while (*slot) {
    auto& n = **slot;
    const unsigned common = common_bits(n.key.data(), key.data(), std::min<unsigned>(n.bits, bits));
    if (common == n.bits && n.bits == bits) {
      if (!n.value) size_++;  // a fork gains a value
      n.value = value;
      return;
    }
    if (common == n.bits) {  // n is a shorter prefix of ours: go down
      slot = &n.child[bit_at(key.data(), n.bits)];
      continue;
    }
    auto fresh = make_node(key, bits, value);
    size_++;
    if (common == bits) {  // ours is a shorter prefix of n: it becomes n's parent
      fresh->child[bit_at(n.key.data(), bits)] = std::move(*slot);
      *slot = std::move(fresh);
      return;
    }
    // They diverge at bit `common`: a valueless fork holds both.
    auto fork = make_node(key, common, nullptr);
    fork->child[bit_at(n.key.data(), common)] = std::move(*slot);
    fork->child[bit_at(key.data(), common)] = std::move(fresh);
    *slot = std::move(fork);
    return;
  }
  *slot = make_node(key, bits, value);
  size_++;
}

bool PrefixTrie::remove(const Cidr& prefix, void* value) {
  const unsigned bits = static_cast<unsigned>(prefix.prefix());
  const auto key = masked(prefix.address().bytes(), bits);
  if (!remove_at(prefix.address().is_v4() ? v4_ : v6_, key, bits, value)) return false;
  size_--;
  return true;
}

void PrefixTrie::remove_all(void* value) {
  size_ -= remove_all_at(v4_, value) + remove_all_at(v6_, value);
}

void PrefixTrie::clear() {
  v4_.reset();
  v6_.reset();
  size_ = 0;
}

void* PrefixTrie::lookup(std::span<const uint8_t> address) const {
  if (address.size() != 4 && address.size() != 16) return nullptr;
  const unsigned max_bits = static_cast<unsigned>(address.size() * 8);
  const NodePtr* n = address.size() == 4 ? &v4_ : &v6_;
  void* best = nullptr;
  while (*n && common_bits((*n)->key.data(), address.data(), (*n)->bits) == (*n)->bits) {
    if ((*n)->value) best = (*n)->value;
    if ((*n)->bits == max_bits) break;
    n = &(*n)->child[bit_at(address.data(), (*n)->bits)];
  }
  return best;
}

void PrefixTrie::for_each(const std::function<void(const Cidr&, void*)>& fn) const {
  walk(v4_, 4, fn);
  walk(v6_, 16, fn);
}

}  // namespace wgnet::engine
