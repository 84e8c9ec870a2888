// Fuzzes the control protocol between wgnetd and its engine process (engine/control): frames into
// control::FrameAssembler, and every message it completes into both directions' decoders
// (decode_request, decode_from_engine). Input is a list of frames, each an op byte (bits 0-1: the
// descriptors that came with it; bit 7: the frame is built from a type, flags, id and body, so its
// header is well-formed; else it is raw bytes) and a 16-bit length-prefixed chunk. Checks: only
// ProtocolError escapes; its text never quotes a secret-looking run of the input; what decodes
// encodes (encode_request, encode_from_engine) to a message that splits into frames, joins back
// and decodes to the same bytes again (the round trip); every body stays within its type's limit.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/control/frame.h"
#include "engine/control/messages.h"
#include "fuzz_util.h"

using namespace wgnet;
using namespace wgnet::engine::control;

namespace {

// The error of `f`, when it threw the codec's error; anything else escapes to libFuzzer.
template <typename F>
std::optional<std::string> refusal(F&& f) {
  try {
    f();
  } catch (const ProtocolError& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

using Runs = std::vector<std::string_view>;

// The input's secret-looking runs never reach an error message.
void check_quiet(const Runs& secrets, const std::optional<std::string>& error) {
  if (!error) return;
  for (const std::string_view run : secrets) FUZZ_CHECK(!fuzz::leaks(*error, run));
}

// `m` as frames, joined again by a fresh assembler: the same message.
Message through_frames(const Message& m) {
  auto frames = encode_frames(m.type, m.id, m.body);
  FrameAssembler joined;
  std::optional<Message> out;
  for (size_t i = 0; i < frames.size(); i++) {
    FUZZ_CHECK(frames[i].size() <= kMaxFrame && !out);
    out = joined.add(frames[i], i == 0 ? m.fds : 0);
  }
  crypto::wipe(frames);
  FUZZ_CHECK(out && out->type == m.type && out->id == m.id && out->fds == m.fds);
  FUZZ_CHECK(out->body == m.body);
  return std::move(*out);
}

void expect_same(const Message& a, const Message& b) {
  FUZZ_CHECK(a.type == b.type && a.id == b.id && a.fds == b.fds && a.body == b.body);
}

// A decoded message encodes; that encoding survives frames and decodes and encodes to itself.
template <typename Decode, typename Encode>
void check_round_trip(const Runs& secrets, const Message& m, Decode decode, Encode encode) {
  std::optional<Message> once;
  const auto error = refusal([&] { once = encode(decode(m), m.id); });
  check_quiet(secrets, error);
  if (!once) return;
  FUZZ_CHECK(once->body.size() <= rule_of(once->type).max_body);
  const Message joined = through_frames(*once);
  Message twice = encode(decode(joined), joined.id);  // canonical now: never throws
  expect_same(*once, twice);
}

void check_message(const Runs& secrets, const Message& m) {
  FUZZ_CHECK(m.body.size() <= rule_of(m.type).max_body);
  FUZZ_CHECK(m.fds >= rule_of(m.type).min_fds && m.fds <= rule_of(m.type).max_fds);
  check_round_trip(secrets, m, decode_request, encode_request);
  check_round_trip(secrets, m, decode_from_engine, encode_from_engine);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Runs secrets = fuzz::secret_runs(fuzz::as_text(data, size));
  fuzz::Reader in(data, size);
  FrameAssembler assembler;
  while (!in.empty()) {
    const uint8_t op = in.u8();
    const unsigned fds = op & 3;
    std::vector<uint8_t> frame;
    if (op & 0x80) {
      const auto type = static_cast<Type>(in.u16());
      const uint16_t flags = in.u8();
      const uint32_t id = in.u16() | static_cast<uint32_t>(in.u16()) << 16;
      const auto body = in.chunk();
      frame.resize(kHeaderSize);
      encode_header({type, flags, id, static_cast<uint32_t>(body.size())},
                    std::span<uint8_t, kHeaderSize>(frame.data(), kHeaderSize));
      frame.insert(frame.end(), body.begin(), body.end());
    } else {
      const auto raw = in.chunk();
      frame.assign(raw.begin(), raw.end());
    }
    std::optional<Message> m;
    const auto error = refusal([&] { m = assembler.add(frame, fds); });
    check_quiet(secrets, error);
    if (error) FUZZ_CHECK(!assembler.in_progress());  // a refusal forgets the partial body
    if (m) check_message(secrets, *m);
  }
  return 0;
}
