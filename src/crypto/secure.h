// Secrets in memory: one way to wipe (wipe), one guard that wipes buffers on every way out of a
// scope (ScopedWipe), one growable secret buffer with explicit copies (SecretBytes) and one
// fixed-size key (Key). Every seed, private and preshared key lives in one of these.
#pragma once
#include <openssl/crypto.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

namespace wgnet::crypto {

inline void wipe(void* p, size_t n) {
  if (n) OPENSSL_cleanse(p, n);
}
inline void wipe(std::string& s) { wipe(s.data(), s.size()); }
inline void wipe(std::vector<uint8_t>& v) { wipe(v.data(), v.size()); }
inline void wipe(std::vector<std::vector<uint8_t>>& vs) {
  for (auto& v : vs) wipe(v);
}

// Wipes the buffers it watches when the scope ends, also on an exception, unless released (the
// buffers were handed to someone who wipes them).
template <typename T>
class ScopedWipe {
 public:
  explicit ScopedWipe(T& buffer) : buffer_(&buffer) {}
  ~ScopedWipe() {
    if (buffer_) wipe(*buffer_);
  }
  ScopedWipe(const ScopedWipe&) = delete;
  ScopedWipe& operator=(const ScopedWipe&) = delete;
  void release() { buffer_ = nullptr; }

 private:
  T* buffer_;
};

// A byte buffer for secrets (seeds). Contents are wiped on destruction, on clear() and before a
// move-assignment replaces them. Copies are explicit (copy()), so no secret is duplicated by
// accident.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::span<const uint8_t> data) : v_(data.begin(), data.end()) {}
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& o) noexcept : v_(std::move(o.v_)) {}
  SecretBytes& operator=(SecretBytes&& o) noexcept {
    if (this != &o) {
      clear();
      v_ = std::move(o.v_);
    }
    return *this;
  }
  ~SecretBytes() { clear(); }

  SecretBytes copy() const { return SecretBytes(span()); }
  void clear() {
    wipe(v_);
    v_.clear();
  }
  const uint8_t* data() const { return v_.data(); }
  size_t size() const { return v_.size(); }
  bool empty() const { return v_.empty(); }
  std::span<const uint8_t> span() const { return v_; }
  bool operator==(const SecretBytes& o) const {
    return v_.size() == o.v_.size() && CRYPTO_memcmp(v_.data(), o.v_.data(), v_.size()) == 0;
  }

 private:
  std::vector<uint8_t> v_;
};

// A 32-byte key (private, public or preshared). Wiped on destruction; compared in constant time.
class Key {
 public:
  static constexpr size_t kSize = 32;
  Key() { bytes_.fill(0); }
  explicit Key(std::span<const uint8_t, kSize> b) { std::copy(b.begin(), b.end(), bytes_.begin()); }
  Key(const Key&) = default;
  Key& operator=(const Key&) = default;
  ~Key() { wipe(bytes_.data(), bytes_.size()); }

  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  static constexpr size_t size() { return kSize; }
  std::span<const uint8_t, kSize> span() const { return bytes_; }
  bool is_zero() const {
    uint8_t acc = 0;
    for (uint8_t b : bytes_) acc |= b;
    return acc == 0;
  }
  bool operator==(const Key& o) const { return CRYPTO_memcmp(data(), o.data(), kSize) == 0; }

 private:
  std::array<uint8_t, kSize> bytes_;
};

}  // namespace wgnet::crypto
