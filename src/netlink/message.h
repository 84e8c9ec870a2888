// Netlink messages: the one builder for every request wgnet sends (rtnetlink and generic
// netlink alike) and a bounds-checked parser for every reply it reads.
#pragma once
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "crypto/secure.h"

namespace wgnet::netlink {

// Appends `data` to `buf`. When the buffer must grow, the old storage is wiped before it is
// freed: messages carry private and preshared keys, and a plain vector would leave copies.
void append_wiping(std::vector<uint8_t>& buf, std::span<const uint8_t> data);


// Builds one netlink message: nlmsghdr, then an optional fixed header (ifinfomsg, genlmsghdr),
// then attributes, each padded to 4 bytes. Integers are in host byte order, as netlink wants.
// The sequence number is left 0: the Socket stamps it when sending.
class MessageBuilder {
 public:
  MessageBuilder(uint16_t type, uint16_t flags);
  // Unfinished messages may hold keys too.
  ~MessageBuilder() { crypto::wipe(buf_); }
  MessageBuilder(MessageBuilder&&) noexcept = default;
  MessageBuilder& operator=(MessageBuilder&&) = delete;

  // Appends a fixed-size protocol header (padded to 4 bytes).
  MessageBuilder& fixed(std::span<const uint8_t> header);
  template <typename T>
  MessageBuilder& fixed(const T& header) {
    static_assert(std::is_trivially_copyable_v<T>);
    return fixed(std::span(reinterpret_cast<const uint8_t*>(&header), sizeof header));
  }
  // Appends a genlmsghdr.
  MessageBuilder& genl(uint8_t cmd, uint8_t version);

  MessageBuilder& put(uint16_t type, std::span<const uint8_t> payload);
  MessageBuilder& put_u8(uint16_t type, uint8_t v) { return put_struct(type, v); }
  MessageBuilder& put_u16(uint16_t type, uint16_t v) { return put_struct(type, v); }
  MessageBuilder& put_u32(uint16_t type, uint32_t v) { return put_struct(type, v); }
  MessageBuilder& put_u64(uint16_t type, uint64_t v) { return put_struct(type, v); }
  // An attribute whose payload is a C struct as the kernel defines it (e.g. sockaddr_in).
  template <typename T>
  MessageBuilder& put_struct(uint16_t type, const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    return put(type, std::span(reinterpret_cast<const uint8_t*>(&v), sizeof v));
  }
  // A NUL-terminated string attribute.
  MessageBuilder& put_string(uint16_t type, std::string_view s);

  // Opens a nested attribute (NLA_F_NESTED is set); returns a handle for end_nested().
  size_t begin_nested(uint16_t type);
  // Closes the nest opened at `handle`: its length now covers everything appended since.
  void end_nested(size_t handle);

  // Bytes so far; a mark for truncate().
  size_t size() const { return buf_.size(); }
  // Drops (and wipes) everything appended after `mark`: undoes what did not fit in a message.
  void truncate(size_t mark);

  // Sets nlmsg_len and hands the message over; the builder is empty afterwards.
  std::vector<uint8_t> finish();

 private:
  void pad();

  std::vector<uint8_t> buf_;
};

// One attribute of a received message; its payload points into the caller's buffer.
class Attribute {
 public:
  Attribute(uint16_t raw_type, std::span<const uint8_t> payload)
      : raw_type_(raw_type), payload_(payload) {}

  // The type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER flags.
  uint16_t type() const { return raw_type_ & NLA_TYPE_MASK; }
  std::span<const uint8_t> payload() const { return payload_; }

  // Fixed-size readers: a payload of the wrong size is a malformed message (SystemError).
  uint8_t u8() const { return read<uint8_t>(); }
  uint16_t u16() const { return read<uint16_t>(); }
  uint32_t u32() const { return read<uint32_t>(); }
  uint64_t u64() const { return read<uint64_t>(); }
  // The payload up to the first NUL (or all of it).
  std::string str() const;
  // The payload parsed as attributes.
  std::vector<Attribute> nested() const;

 private:
  template <typename T>
  T read() const;

  uint16_t raw_type_;
  std::span<const uint8_t> payload_;
};

// Parses a run of attributes; throws SystemError if any length runs past the buffer.
std::vector<Attribute> parse_attributes(std::span<const uint8_t> data);
// The first attribute of that type. A copy (it points into the message buffer, not into
// `attrs`), so it is safe to call on a temporary vector.
std::optional<Attribute> find_attribute(const std::vector<Attribute>& attrs, uint16_t type);

// One message of a received buffer; its payload points into the caller's buffer.
struct Message {
  nlmsghdr header{};
  std::span<const uint8_t> bytes;    // the whole message, nlmsg_len bytes
  std::span<const uint8_t> payload;  // after the nlmsghdr

  // The attributes after a fixed header of `fixed_size` bytes (0, GENL_HDRLEN,
  // sizeof(ifinfomsg)); throws SystemError when the payload is shorter than that header.
  std::vector<Attribute> attributes(size_t fixed_size) const;
  // A copy of the fixed header at the start of the payload.
  template <typename T>
  T fixed() const;
  // Throws SystemError unless the payload holds at least `bytes` (a fixed header).
  void require_payload(size_t bytes) const;
};

// Splits a buffer into messages; throws SystemError on a length that is too small or runs past
// the buffer, so a malformed buffer never reads out of bounds.
std::vector<Message> parse_messages(std::span<const uint8_t> data);

[[noreturn]] void throw_malformed(const std::string& why);

template <typename T>
T Attribute::read() const {
  if (payload_.size() != sizeof(T))
    throw_malformed("attribute " + std::to_string(type()) + " has " +
                    std::to_string(payload_.size()) + " bytes, expected " +
                    std::to_string(sizeof(T)));
  T v;
  std::memcpy(&v, payload_.data(), sizeof v);
  return v;
}

template <typename T>
T Message::fixed() const {
  static_assert(std::is_trivially_copyable_v<T>);
  require_payload(sizeof(T));
  T v;
  std::memcpy(&v, payload.data(), sizeof v);
  return v;
}

}  // namespace wgnet::netlink
