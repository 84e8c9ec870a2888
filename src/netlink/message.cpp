// Netlink message building and parsing: the alignment rules of <linux/netlink.h>, checked
// against the buffer at every step.
#include "netlink/message.h"

#include <linux/genetlink.h>

#include <algorithm>

#include "crypto/secure.h"
#include "util/error.h"

namespace wgnet::netlink {

namespace {

constexpr size_t align4(size_t n) { return (n + 3) & ~size_t{3}; }

void write_u16(std::vector<uint8_t>& buf, size_t at, uint16_t v) {
  std::memcpy(buf.data() + at, &v, sizeof v);
}

}  // namespace

void append_wiping(std::vector<uint8_t>& buf, std::span<const uint8_t> data) {
  size_t need = buf.size() + data.size();
  if (need > buf.capacity()) {
    std::vector<uint8_t> bigger;
    bigger.reserve(std::max(need, 2 * buf.capacity()));
    bigger.assign(buf.begin(), buf.end());
    crypto::wipe(buf);
    buf.swap(bigger);
  }
  buf.insert(buf.end(), data.begin(), data.end());
}

[[noreturn]] void throw_malformed(const std::string& why) {
  throw SystemError("netlink: malformed message: " + why);
}

MessageBuilder::MessageBuilder(uint16_t type, uint16_t flags) {
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = flags;
  buf_.reserve(256);
  append_wiping(buf_, std::span(reinterpret_cast<const uint8_t*>(&h), sizeof h));
}

void MessageBuilder::pad() {
  static constexpr uint8_t zeros[4] = {};
  append_wiping(buf_, std::span(zeros, align4(buf_.size()) - buf_.size()));
}

MessageBuilder& MessageBuilder::fixed(std::span<const uint8_t> header) {
  append_wiping(buf_, header);
  pad();
  return *this;
}

MessageBuilder& MessageBuilder::genl(uint8_t cmd, uint8_t version) {
  genlmsghdr g{};
  g.cmd = cmd;
  g.version = version;
  return fixed(g);
}

MessageBuilder& MessageBuilder::put(uint16_t type, std::span<const uint8_t> payload) {
  if (payload.size() > 0xffff - NLA_HDRLEN)
    throw InputError("netlink: attribute " + std::to_string(type) + " of " +
                     std::to_string(payload.size()) + " bytes does not fit in 64 KiB");
  nlattr a{};
  a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + payload.size());
  a.nla_type = type;
  append_wiping(buf_, std::span(reinterpret_cast<const uint8_t*>(&a), sizeof a));
  append_wiping(buf_, payload);
  pad();
  return *this;
}

MessageBuilder& MessageBuilder::put_string(uint16_t type, std::string_view s) {
  std::vector<uint8_t> bytes(s.begin(), s.end());
  bytes.push_back(0);
  return put(type, bytes);
}

size_t MessageBuilder::begin_nested(uint16_t type) {
  size_t handle = buf_.size();
  put(type | NLA_F_NESTED, {});
  return handle;
}

void MessageBuilder::end_nested(size_t handle) {
  size_t len = buf_.size() - handle;
  if (len > 0xffff)
    throw InputError("netlink: nested attribute of " + std::to_string(len) +
                     " bytes does not fit in 64 KiB");
  write_u16(buf_, handle + offsetof(nlattr, nla_len), static_cast<uint16_t>(len));
}

void MessageBuilder::truncate(size_t mark) {
  if (mark >= buf_.size()) return;
  crypto::wipe(buf_.data() + mark, buf_.size() - mark);
  buf_.resize(mark);
}

std::vector<uint8_t> MessageBuilder::finish() {
  auto len = static_cast<uint32_t>(buf_.size());
  std::memcpy(buf_.data() + offsetof(nlmsghdr, nlmsg_len), &len, sizeof len);
  return std::move(buf_);
}

std::string Attribute::str() const {
  auto end = std::find(payload_.begin(), payload_.end(), uint8_t{0});
  return std::string(payload_.begin(), end);
}

std::vector<Attribute> Attribute::nested() const { return parse_attributes(payload_); }

std::vector<Attribute> parse_attributes(std::span<const uint8_t> data) {
  std::vector<Attribute> out;
  size_t at = 0;
  while (at < data.size()) {
    size_t left = data.size() - at;
    if (left < NLA_HDRLEN)
      throw_malformed(std::to_string(left) + " trailing bytes after the last attribute");
    nlattr a;
    std::memcpy(&a, data.data() + at, sizeof a);
    if (a.nla_len < NLA_HDRLEN || a.nla_len > left)
      throw_malformed("attribute " + std::to_string(a.nla_type & NLA_TYPE_MASK) + " claims " +
                      std::to_string(a.nla_len) + " bytes, " + std::to_string(left) + " left");
    out.emplace_back(a.nla_type, data.subspan(at + NLA_HDRLEN, a.nla_len - NLA_HDRLEN));
    // The padding of the last attribute may be cut off; the next one starts aligned.
    at += std::min(left, align4(a.nla_len));
  }
  return out;
}

std::optional<Attribute> find_attribute(const std::vector<Attribute>& attrs, uint16_t type) {
  for (const auto& a : attrs)
    if (a.type() == type) return a;
  return std::nullopt;
}

void Message::require_payload(size_t bytes) const {
  if (payload.size() < bytes)
    throw_malformed("message of type " + std::to_string(header.nlmsg_type) + " has " +
                    std::to_string(payload.size()) + " payload bytes, shorter than its " +
                    std::to_string(bytes) + "-byte header");
}

std::vector<Attribute> Message::attributes(size_t fixed_size) const {
  require_payload(fixed_size);
  size_t start = std::min(payload.size(), align4(fixed_size));
  return parse_attributes(payload.subspan(start));
}

std::vector<Message> parse_messages(std::span<const uint8_t> data) {
  std::vector<Message> out;
  size_t at = 0;
  while (at < data.size()) {
    size_t left = data.size() - at;
    if (left < sizeof(nlmsghdr))
      throw_malformed(std::to_string(left) + " trailing bytes after the last message");
    Message m;
    std::memcpy(&m.header, data.data() + at, sizeof m.header);
    if (m.header.nlmsg_len < sizeof(nlmsghdr) || m.header.nlmsg_len > left)
      throw_malformed("message claims " + std::to_string(m.header.nlmsg_len) + " bytes, " +
                      std::to_string(left) + " left");
    m.bytes = data.subspan(at, m.header.nlmsg_len);
    m.payload = m.bytes.subspan(sizeof(nlmsghdr));
    out.push_back(m);
    at += std::min(left, align4(m.header.nlmsg_len));
  }
  return out;
}

}  // namespace wgnet::netlink
