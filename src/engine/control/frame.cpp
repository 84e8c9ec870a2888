// Frame headers, splitting a body into frames and joining frames back into messages.
#include "engine/control/frame.h"

#include <algorithm>
#include <cstring>

#include "crypto/secure.h"

namespace wgnet::engine::control {

namespace {

constexpr uint8_t kMagic[4] = {'W', 'G', 'E', '1'};

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v));
  put16(p + 2, static_cast<uint16_t>(v >> 16));
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
uint32_t get32(const uint8_t* p) { return get16(p) | static_cast<uint32_t>(get16(p + 2)) << 16; }

// Appends without leaving a copy of the body (keys) in freed memory: a full buffer is moved to a
// larger one by hand, and the old one wiped.
void append_wiping(std::string& body, std::span<const uint8_t> bytes) {
  if (body.size() + bytes.size() > body.capacity()) {
    std::string larger;
    larger.reserve(std::max(body.size() + bytes.size(), 2 * body.capacity()));
    larger = body;
    crypto::wipe(body);
    body.swap(larger);
  }
  body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

}  // namespace

std::string type_name(Type t) {
  const uint16_t code = static_cast<uint16_t>(t);
  const std::string suffix = is_reply(t) ? " reply" : "";
  switch (static_cast<Type>(code & ~kReplyBit)) {
    case Type::kHello:
      return "Hello" + suffix;
    case Type::kAddDevice:
      return "AddDevice" + suffix;
    case Type::kConfigure:
      return "Configure" + suffix;
    case Type::kUapiSet:
      return "UapiSet" + suffix;
    case Type::kGet:
      return "Get" + suffix;
    case Type::kInfo:
      return "Info" + suffix;
    case Type::kSetMtu:
      return "SetMtu" + suffix;
    case Type::kRemoveDevice:
      return "RemoveDevice" + suffix;
    case Type::kExport:
      return "Export" + suffix;
    case Type::kShutdown:
      return "Shutdown" + suffix;
    case Type::kDeviceLost:
      return "DeviceLost" + suffix;
    case Type::kExportDevice:
      return "ExportDevice" + suffix;
  }
  return "type " + std::to_string(code & ~kReplyBit) + suffix;
}

TypeRule rule_of(Type t) {
  switch (t) {
    case Type::kAddDevice:
      return {kMaxConfigBody, 2, 3};  // TUN, UDP4, [UDP6]
    case Type::kConfigure:            // [UDP4, [UDP6]] when rebinding
    case Type::kUapiSet:
      return {kMaxConfigBody, 0, 2};
    case Type::kExportDevice:
      return {TypeRule{}.max_body, 2, 3};
    default:
      break;
  }
  if (t == reply_to(Type::kGet)) return {kMaxConfigBody, 0, 0};
  return {};
}

void encode_header(const Header& h, std::span<uint8_t, kHeaderSize> out) {
  std::memcpy(out.data(), kMagic, 4);
  put16(out.data() + 4, static_cast<uint16_t>(h.type));
  put16(out.data() + 6, h.flags);
  put32(out.data() + 8, h.id);
  put32(out.data() + 12, h.length);
}

Header decode_header(std::span<const uint8_t> frame) {
  if (frame.size() < kHeaderSize)
    throw ProtocolError("control: frame of " + std::to_string(frame.size()) +
                        " bytes, shorter than a header");
  if (frame.size() > kMaxFrame)
    throw ProtocolError("control: frame of " + std::to_string(frame.size()) +
                        " bytes, over 64 KiB");
  if (std::memcmp(frame.data(), kMagic, 4) != 0) throw ProtocolError("control: bad magic");
  const uint8_t* p = frame.data();
  Header h{static_cast<Type>(get16(p + 4)), get16(p + 6), get32(p + 8), get32(p + 12)};
  if (h.flags & ~kFlagMore)
    throw ProtocolError("control: " + type_name(h.type) + " frame with unknown flags " +
                        std::to_string(h.flags));
  if (h.length != frame.size() - kHeaderSize)
    throw ProtocolError("control: " + type_name(h.type) + " frame says " +
                        std::to_string(h.length) + " bytes of body and carries " +
                        std::to_string(frame.size() - kHeaderSize));
  return h;
}

std::vector<std::vector<uint8_t>> encode_frames(Type type, uint32_t id, std::string_view body) {
  if (body.size() > rule_of(type).max_body)
    throw ProtocolError("control: " + type_name(type) + " body of " + std::to_string(body.size()) +
                        " bytes, over its limit of " + std::to_string(rule_of(type).max_body));
  std::vector<std::vector<uint8_t>> frames;
  size_t at = 0;
  do {
    const size_t n = std::min(body.size() - at, kMaxFramePayload);
    const bool more = at + n < body.size();
    auto& f = frames.emplace_back(kHeaderSize + n);
    encode_header({type, more ? kFlagMore : uint16_t{0}, id, static_cast<uint32_t>(n)},
                  std::span<uint8_t, kHeaderSize>(f.data(), kHeaderSize));
    std::memcpy(f.data() + kHeaderSize, body.data() + at, n);
    at += n;
  } while (at < body.size());
  return frames;
}

Message& Message::operator=(Message&& o) noexcept {
  if (this != &o) {
    crypto::wipe(body);
    type = o.type;
    id = o.id;
    fds = o.fds;
    body = std::move(o.body);
  }
  return *this;
}

Message::~Message() { crypto::wipe(body); }

FrameAssembler::~FrameAssembler() = default;

void FrameAssembler::reset() { open_.reset(); }

std::optional<Message> FrameAssembler::add(std::span<const uint8_t> frame, unsigned fds) {
  try {
    const Header h = decode_header(frame);
    const TypeRule rule = rule_of(h.type);
    const bool more = h.flags & kFlagMore;
    if (open_) {
      if (h.type != open_->type || h.id != open_->id)
        throw ProtocolError("control: " + type_name(h.type) + " frame inside the body of " +
                            type_name(open_->type) + " " + std::to_string(open_->id));
      if (fds)
        throw ProtocolError("control: descriptors on a continuation frame of " + type_name(h.type));
    } else {
      if (fds < rule.min_fds || fds > rule.max_fds)
        throw ProtocolError("control: " + type_name(h.type) + " with " + std::to_string(fds) +
                            " descriptors, expected " + std::to_string(rule.min_fds) + " to " +
                            std::to_string(rule.max_fds));
      open_.emplace(h.type, h.id, fds, std::string());
    }
    if (more && h.length == 0)
      throw ProtocolError("control: empty " + type_name(h.type) + " frame says more follows");
    if (open_->body.size() + h.length > rule.max_body)
      throw ProtocolError("control: " + type_name(h.type) + " body over its limit of " +
                          std::to_string(rule.max_body) + " bytes");
    append_wiping(open_->body, frame.subspan(kHeaderSize));
    if (more) return std::nullopt;
    std::optional<Message> done(std::move(*open_));
    open_.reset();
    return done;
  } catch (const ProtocolError&) {
    open_.reset();
    throw;
  }
}

}  // namespace wgnet::engine::control
