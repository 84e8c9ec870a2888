// Control frames: the header byte for byte, bodies split into frames and joined back, and every
// frame the assembler refuses (limits, interleaving, descriptors).
#include <gtest/gtest.h>

#include "engine/control/frame.h"

using namespace wgnet::engine::control;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes frame(Type type, uint16_t flags, uint32_t id, std::string_view body) {
  Bytes f(kHeaderSize);
  encode_header({type, flags, id, static_cast<uint32_t>(body.size())},
                std::span<uint8_t, kHeaderSize>(f.data(), kHeaderSize));
  f.insert(f.end(), body.begin(), body.end());
  return f;
}

std::string refusal(FrameAssembler& a, const Bytes& f, unsigned fds = 0) {
  try {
    a.add(f, fds);
  } catch (const ProtocolError& e) {
    return e.what();
  }
  return "accepted";
}

}  // namespace

TEST(ControlFrame, HeaderIsByteExact) {
  const auto frames = encode_frames(Type::kHello, 0x01020304, "protocol=1\n");
  ASSERT_EQ(frames.size(), 1u);
  const Bytes want = {'W', 'G', 'E', '1', 0x01, 0x00, 0x00, 0x00, 0x04, 0x03, 0x02, 0x01, 11,  0,
                      0,   0,   'p', 'r', 'o',  't',  'o',  'c',  'o',  'l',  '=',  '1',  '\n'};
  EXPECT_EQ(frames[0], want);
  const Header h = decode_header(want);
  EXPECT_EQ(h.type, Type::kHello);
  EXPECT_EQ(h.flags, 0);
  EXPECT_EQ(h.id, 0x01020304u);
  EXPECT_EQ(h.length, 11u);

  // A reply sets the top bit of the type; MORE is bit 0 of the flags.
  const auto reply = frame(reply_to(Type::kGet), kFlagMore, 7, "x");
  EXPECT_EQ(Bytes(reply.begin() + 4, reply.begin() + 8), (Bytes{0x05, 0x80, 0x01, 0x00}));
  EXPECT_EQ(type_name(reply_to(Type::kGet)), "Get reply");
  EXPECT_EQ(type_name(static_cast<Type>(77)), "type 77");
  EXPECT_EQ(type_name(reply_to(static_cast<Type>(77))), "type 77 reply");
}

TEST(ControlFrame, AnEmptyBodyIsOneFrame) {
  const auto frames = encode_frames(Type::kShutdown, 3, "");
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].size(), kHeaderSize);
  FrameAssembler a;
  auto m = a.add(frames[0], 0);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, Type::kShutdown);
  EXPECT_EQ(m->id, 3u);
  EXPECT_EQ(m->body, "");
}

TEST(ControlFrame, LongBodiesSplitAndJoin) {
  std::string body(2 * kMaxFramePayload + 100, 'a');
  for (size_t i = 0; i < body.size(); i++) body[i] = static_cast<char>('a' + i % 26);
  const auto frames = encode_frames(Type::kAddDevice, 9, body);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].size(), kMaxFrame);
  EXPECT_EQ(frames[1].size(), kMaxFrame);
  EXPECT_EQ(frames[2].size(), kHeaderSize + 100);
  EXPECT_EQ(decode_header(frames[0]).flags, kFlagMore);
  EXPECT_EQ(decode_header(frames[2]).flags, 0);

  FrameAssembler a;
  EXPECT_FALSE(a.add(frames[0], 3));  // the descriptors come with the first frame
  EXPECT_TRUE(a.in_progress());
  EXPECT_FALSE(a.add(frames[1], 0));
  auto m = a.add(frames[2], 0);
  ASSERT_TRUE(m);
  EXPECT_FALSE(a.in_progress());
  EXPECT_EQ(m->body, body);
  EXPECT_EQ(m->fds, 3u);
  EXPECT_EQ(m->type, Type::kAddDevice);
  EXPECT_EQ(m->id, 9u);
  // The assembler is ready for the next message.
  EXPECT_TRUE(a.add(encode_frames(Type::kGet, 10, "name=wg0\n")[0], 0));
}

TEST(ControlFrame, LimitsPerType) {
  EXPECT_EQ(rule_of(Type::kAddDevice).max_body, 32u << 20);
  EXPECT_EQ(rule_of(Type::kConfigure).max_body, 32u << 20);
  EXPECT_EQ(rule_of(Type::kUapiSet).max_body, 32u << 20);
  EXPECT_EQ(rule_of(reply_to(Type::kGet)).max_body, 32u << 20);
  for (Type t : {Type::kHello, Type::kGet, Type::kInfo, reply_to(Type::kInfo), Type::kExportDevice,
                 Type::kDeviceLost, static_cast<Type>(99)})
    EXPECT_EQ(rule_of(t).max_body, 64u << 10) << type_name(t);

  // Encoding refuses a body over the limit; so does the assembler, frame by frame.
  EXPECT_THROW(encode_frames(Type::kGet, 1, std::string(64 * 1024 + 1, 'x')), ProtocolError);
  EXPECT_NO_THROW(encode_frames(Type::kGet, 1, std::string(64 * 1024, 'x')));
  FrameAssembler a;
  const std::string piece(kMaxFramePayload, 'x');
  EXPECT_FALSE(a.add(frame(Type::kInfo, kFlagMore, 1, piece), 0));
  EXPECT_EQ(refusal(a, frame(Type::kInfo, 0, 1, std::string(17, 'x'))),
            "control: Info body over its limit of 65536 bytes");
  EXPECT_FALSE(a.in_progress());  // the partial body is forgotten

  // 32 MiB for a configuration: exactly the limit passes, one byte more does not.
  size_t total = 0;
  const size_t limit = 32u << 20;
  for (; total + kMaxFramePayload < limit; total += kMaxFramePayload)
    ASSERT_FALSE(a.add(frame(Type::kUapiSet, kFlagMore, 2, piece), 0));
  const std::string last(limit - total, 'y');
  Bytes over = frame(Type::kUapiSet, 0, 2, last + "z");
  FrameAssembler b;
  auto m = a.add(frame(Type::kUapiSet, 0, 2, last), 0);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body.size(), limit);
  for (total = 0; total + kMaxFramePayload < limit; total += kMaxFramePayload)
    ASSERT_FALSE(b.add(frame(Type::kUapiSet, kFlagMore, 2, piece), 0));
  EXPECT_EQ(refusal(b, over), "control: UapiSet body over its limit of 33554432 bytes");
}

TEST(ControlFrame, RefusesMalformedFrames) {
  FrameAssembler a;
  Bytes f = frame(Type::kHello, 0, 1, "protocol=1\n");
  Bytes bad = f;
  bad[3] = '2';
  EXPECT_EQ(refusal(a, bad), "control: bad magic");
  bad = f;
  bad[6] = 2;  // a flag nobody knows
  EXPECT_EQ(refusal(a, bad), "control: Hello frame with unknown flags 2");
  bad = f;
  bad[12] = 12;  // says one byte more than it carries
  EXPECT_EQ(refusal(a, bad), "control: Hello frame says 12 bytes of body and carries 11");
  bad = f;
  bad.push_back('x');
  EXPECT_EQ(refusal(a, bad), "control: Hello frame says 11 bytes of body and carries 12");
  EXPECT_EQ(refusal(a, Bytes(f.begin(), f.begin() + 15)),
            "control: frame of 15 bytes, shorter than a header");
  EXPECT_EQ(refusal(a, Bytes(kMaxFrame + 1, 0)), "control: frame of 65537 bytes, over 64 KiB");
  EXPECT_EQ(refusal(a, frame(Type::kHello, kFlagMore, 1, "")),
            "control: empty Hello frame says more follows");
  EXPECT_EQ(refusal(a, f), "accepted");
}

TEST(ControlFrame, RefusesInterleavedBodies) {
  FrameAssembler a;
  ASSERT_FALSE(a.add(frame(Type::kConfigure, kFlagMore, 5, "name=wg0\n"), 0));
  EXPECT_EQ(refusal(a, frame(Type::kGet, 0, 6, "name=wg1\n")),
            "control: Get frame inside the body of Configure 5");
  EXPECT_FALSE(a.in_progress());
  ASSERT_FALSE(a.add(frame(Type::kConfigure, kFlagMore, 5, "name=wg0\n"), 0));
  EXPECT_EQ(refusal(a, frame(Type::kConfigure, 0, 6, "x")),
            "control: Configure frame inside the body of Configure 5");
  // After a refusal, a whole message is taken again.
  EXPECT_EQ(refusal(a, frame(Type::kGet, 0, 6, "name=wg1\n")), "accepted");
}

TEST(ControlFrame, DescriptorsOnlyOnTheFirstFrameOfATypeThatTakesThem) {
  EXPECT_EQ(rule_of(Type::kAddDevice).min_fds, 2u);
  EXPECT_EQ(rule_of(Type::kAddDevice).max_fds, 3u);
  EXPECT_EQ(rule_of(Type::kExportDevice).min_fds, 2u);
  EXPECT_EQ(rule_of(Type::kExportDevice).max_fds, 3u);
  EXPECT_EQ(rule_of(Type::kConfigure).max_fds, 2u);
  EXPECT_EQ(rule_of(Type::kUapiSet).max_fds, 2u);
  FrameAssembler a;
  EXPECT_EQ(refusal(a, frame(Type::kGet, 0, 1, "name=wg0\n"), 1),
            "control: Get with 1 descriptors, expected 0 to 0");
  EXPECT_EQ(refusal(a, frame(Type::kAddDevice, 0, 1, "x"), 1),
            "control: AddDevice with 1 descriptors, expected 2 to 3");
  EXPECT_EQ(refusal(a, frame(Type::kAddDevice, 0, 1, "x"), 4),
            "control: AddDevice with 4 descriptors, expected 2 to 3");
  EXPECT_EQ(refusal(a, frame(Type::kConfigure, 0, 1, "x"), 3),
            "control: Configure with 3 descriptors, expected 0 to 2");
  EXPECT_EQ(refusal(a, frame(static_cast<Type>(99), 0, 1, ""), 1),
            "control: type 99 with 1 descriptors, expected 0 to 0");
  ASSERT_FALSE(a.add(frame(Type::kAddDevice, kFlagMore, 1, "x"), 2));
  EXPECT_EQ(refusal(a, frame(Type::kAddDevice, 0, 1, "y"), 1),
            "control: descriptors on a continuation frame of AddDevice");
  EXPECT_FALSE(a.in_progress());
  EXPECT_EQ(refusal(a, frame(Type::kConfigure, 0, 1, "x"), 2), "accepted");
}

TEST(ControlFrame, UnknownTypesAssembleForAnENOSYSAnswer) {
  FrameAssembler a;
  auto m = a.add(frame(static_cast<Type>(99), 0, 4, "what=1\n"), 0);
  ASSERT_TRUE(m);
  EXPECT_EQ(static_cast<uint16_t>(m->type), 99);
}
