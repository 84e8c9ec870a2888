// The control protocol's frames (docs/PRIVSEP-PLAN.md 1.2): wgnetd and its engine process talk
// in datagrams of at most 64 KiB, each a header and a piece of one message's body; a body longer
// than a frame continues in frames of the same type and id. Pure: the transport
// (engine/linux/control_channel) moves the bytes and the descriptors, and tells how many came.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "util/error.h"

namespace wgnet::engine::control {

// A peer broke the protocol: a malformed frame or message, a limit passed, descriptors where
// none may be. The message names what was wrong, never a value that may hold a key.
class ProtocolError : public SystemError {
 public:
  using SystemError::SystemError;
};

// Message types. Requests go wgnetd → engine; each is answered by its type with kReplyBit and the
// request's id. Events and per-device Export answers go engine → wgnetd on types of their own.
enum class Type : uint16_t {
  kHello = 1,
  kAddDevice = 2,
  kConfigure = 3,
  kUapiSet = 4,
  kGet = 5,
  kInfo = 6,
  kSetMtu = 7,
  kRemoveDevice = 8,
  kExport = 9,
  kShutdown = 10,
  kDeviceLost = 0x4001,    // event, id 0
  kExportDevice = 0x4002,  // one per device, with the Export's id, before the Export's reply
};
// Requests are the types below kEngineTypes; the engine's own messages (events, Export's devices)
// are from kEngineTypes up to kReplyBit; a reply is its request's type with kReplyBit.
inline constexpr uint16_t kEngineTypes = 0x4000;
inline constexpr uint16_t kReplyBit = 0x8000;
constexpr bool is_request(Type t) { return static_cast<uint16_t>(t) < kEngineTypes; }
constexpr Type reply_to(Type request) {
  return static_cast<Type>(static_cast<uint16_t>(request) | kReplyBit);
}
constexpr bool is_reply(Type t) { return (static_cast<uint16_t>(t) & kReplyBit) != 0; }
// "AddDevice", "Get reply", "type 77": for error messages.
std::string type_name(Type t);

// What a message of one type may be: its body's size and how many descriptors its first frame
// carries. Unknown types get the defaults (the engine answers them -ENOSYS).
struct TypeRule {
  size_t max_body = 64 * 1024;
  unsigned min_fds = 0;
  unsigned max_fds = 0;
};
inline constexpr size_t kMaxConfigBody = 32 * 1024 * 1024;  // UapiServer::Limits::max_request
inline constexpr unsigned kMaxFds = 3;                      // TUN, UDP4, UDP6
TypeRule rule_of(Type t);

// u32 magic "WGE1" | u16 type | u16 flags | u32 id | u32 length, little-endian as WireGuard's
// own messages, then `length` bytes of body.
struct Header {
  Type type{};
  uint16_t flags = 0;
  uint32_t id = 0;
  uint32_t length = 0;
};
inline constexpr uint16_t kFlagMore = 1;  // the body continues in the next frame
inline constexpr size_t kHeaderSize = 16;
inline constexpr size_t kMaxFrame = 64 * 1024;
inline constexpr size_t kMaxFramePayload = kMaxFrame - kHeaderSize;

void encode_header(const Header& h, std::span<uint8_t, kHeaderSize> out);
// The header of `frame`, checked against the frame: magic, flags, length. Throws ProtocolError.
Header decode_header(std::span<const uint8_t> frame);

// The frames carrying `body` (one at least; every one full but the last). Throws ProtocolError
// when the body is over its type's limit. The frames hold what the body holds (keys): the caller
// wipes them after sending (crypto::ScopedWipe).
std::vector<std::vector<uint8_t>> encode_frames(Type type, uint32_t id, std::string_view body);

// One whole message as it arrived: its body wiped when it goes.
struct Message {
  Type type{};
  uint32_t id = 0;
  unsigned fds = 0;  // descriptors that came with its first frame
  std::string body;

  Message() = default;
  Message(Type t, uint32_t i, unsigned n, std::string b)
      : type(t), id(i), fds(n), body(std::move(b)) {}
  Message(Message&&) noexcept = default;
  Message& operator=(Message&& o) noexcept;
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  ~Message();
};

// Joins frames into messages, one message at a time. Refuses (ProtocolError, and forgets the
// partial body): a malformed header, a frame of another type or id while a body is open
// (interleaving), a body over its type's limit, an empty frame that says more follows, and
// descriptors anywhere but on the first frame of a type that takes them, in its range.
class FrameAssembler {
 public:
  FrameAssembler() = default;
  FrameAssembler(const FrameAssembler&) = delete;
  FrameAssembler& operator=(const FrameAssembler&) = delete;
  ~FrameAssembler();

  // One received frame and the number of descriptors the transport got with it. The message
  // when this frame ends one; nullopt when more frames are to come.
  std::optional<Message> add(std::span<const uint8_t> frame, unsigned fds);
  // A body is open (its first frame came, its last did not).
  bool in_progress() const { return open_.has_value(); }
  void reset();

 private:
  std::optional<Message> open_;
};

}  // namespace wgnet::engine::control
