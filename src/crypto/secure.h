// Buffers that wipe themselves: every seed and private key lives in one of these.
#pragma once
#include <openssl/crypto.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace wgnet::crypto {

inline void wipe(void* p, size_t n) { OPENSSL_cleanse(p, n); }

// Wipes a string that held secret text when the scope ends, also on an exception.
class WipeOnExit {
 public:
  explicit WipeOnExit(std::string& s) : s_(s) {}
  ~WipeOnExit() { wipe(s_.data(), s_.size()); }
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

 private:
  std::string& s_;
};

// A growable byte buffer for secrets (seeds). Copies are explicit; contents are wiped on
// destruction and before reallocation is avoided by reserving up front where it matters.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::span<const uint8_t> data) : v_(data.begin(), data.end()) {}
  SecretBytes(const SecretBytes& o) : v_(o.v_) {}
  SecretBytes& operator=(const SecretBytes& o) {
    if (this != &o) {
      clear();
      v_ = o.v_;
    }
    return *this;
  }
  SecretBytes(SecretBytes&& o) noexcept : v_(std::move(o.v_)) {}
  SecretBytes& operator=(SecretBytes&& o) noexcept {
    if (this != &o) {
      clear();
      v_ = std::move(o.v_);
    }
    return *this;
  }
  ~SecretBytes() { clear(); }

  void clear() {
    if (!v_.empty()) wipe(v_.data(), v_.size());
    v_.clear();
  }
  const uint8_t* data() const { return v_.data(); }
  size_t size() const { return v_.size(); }
  bool empty() const { return v_.empty(); }
  std::span<const uint8_t> span() const { return v_; }
  bool operator==(const SecretBytes& o) const { return v_ == o.v_; }

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
