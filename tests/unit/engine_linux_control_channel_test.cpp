// Unit tests of engine/linux/control_channel on a real socketpair (no root): descriptors arrive
// close-on-exec and name the files that were sent, a message split into frames joins, and what
// is refused (too many descriptors, a datagram over a frame, descriptors a type does not take)
// leaves no descriptor open; end of file and the deadline are reported as themselves.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <array>
#include <chrono>
#include <string>
#include <vector>

#include "engine/control/messages.h"
#include "engine/linux/control_channel.h"

using namespace wgnet;
using namespace wgnet::engine;
using namespace std::chrono_literals;

namespace {

std::array<Fd, 2> socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
    throw SystemError("socketpair: " + errno_text(errno));
  return {Fd(fds[0]), Fd(fds[1])};
}

// Two connected channels, as wgnetd and its engine hold them.
struct Pair {
  explicit Pair(std::chrono::milliseconds deadline = ControlChannel::kDefaultDeadline)
      : Pair(socket_pair(), deadline) {}
  Pair(std::array<Fd, 2> s, std::chrono::milliseconds deadline)
      : a(std::move(s[0]), deadline), b(std::move(s[1]), deadline) {}
  ControlChannel a, b;
};

size_t open_fds() {
  size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (const dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n - 1;  // the directory's own descriptor
}

// Distinct files to send: /dev/null and the two ends of a pipe.
struct Files {
  Files() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw SystemError("pipe: " + errno_text(errno));
    fds.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    fds.emplace_back(p[0]);
    fds.emplace_back(p[1]);
  }
  std::vector<int> raw(size_t n) const {
    std::vector<int> out;
    for (size_t i = 0; i < n; i++) out.push_back(fds[i % fds.size()].get());
    return out;
  }
  std::vector<Fd> fds;
};

bool same_file(int a, int b) {
  struct stat sa;
  struct stat sb;
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

control::Message get_message(uint32_t id) {
  return control::encode_request(control::Get{"wg0"}, id);
}

std::string error_of(ControlChannel& c) {
  try {
    c.receive();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "received";
}

}  // namespace

TEST(ControlChannel, DescriptorsArriveAndNameTheSameFiles) {
  Pair p;
  Files files;
  const control::AddDevice add{"wg0", 1420, {}, {51820, false, false, true}, {}};
  p.a.send(control::encode_request(add, 7), files.raw(3));
  const ReceivedMessage got = p.b.receive();
  EXPECT_EQ(got.message.type, control::Type::kAddDevice);
  EXPECT_EQ(got.message.id, 7u);
  EXPECT_EQ(got.message.body, control::encode_request(add, 7).body);
  ASSERT_EQ(got.fds.size(), 3u);
  for (size_t i = 0; i < 3; i++) {
    EXPECT_NE(got.fds[i].get(), files.fds[i].get());  // a new descriptor for the same file
    EXPECT_TRUE(same_file(got.fds[i].get(), files.fds[i].get())) << i;
    EXPECT_EQ(::fcntl(got.fds[i].get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC) << i;
  }
  EXPECT_FALSE(same_file(got.fds[0].get(), files.fds[1].get()));  // /dev/null is not the pipe
  // The pipe passed over works: what goes into the received write end comes out of ours.
  ASSERT_EQ(::write(got.fds[2].get(), "x", 1), 1);
  char c = 0;
  EXPECT_EQ(::read(files.fds[1].get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
}

TEST(ControlChannel, ALongMessageGoesInFramesWithItsDescriptorsOnTheFirst) {
  Pair p;
  Files files;
  std::string body = "public_key=" + std::string(64, 'a') + "\n";
  while (body.size() < 3 * control::kMaxFramePayload) body += "allowed_ip=10.0.0.0/8\n";
  body += "\n";
  const control::Message sent = control::encode_request(
      control::UapiSet{"wg0", control::UdpBinding{1, false, false, true},
                       crypto::SecretBytes(
                           std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()))},
      9);
  p.a.send(sent, files.raw(2));
  const ReceivedMessage got = p.b.receive();
  EXPECT_EQ(got.message.body, sent.body);
  ASSERT_EQ(got.fds.size(), 2u);
  EXPECT_TRUE(same_file(got.fds[1].get(), files.fds[1].get()));
  // And the channel carries the next message.
  p.a.send(get_message(10));
  EXPECT_EQ(p.b.receive().message.id, 10u);
}

TEST(ControlChannel, TooManyDescriptorsAreAllClosed) {
  Pair p;
  Files files;
  const size_t before = open_fds();
  auto frame = control::encode_frames(control::Type::kAddDevice, 1, "x")[0];
  // Four: room was made for one more than allowed, so they are counted and refused.
  p.a.send_frame(frame, files.raw(4));
  EXPECT_EQ(error_of(p.b), "control: a frame with 4 descriptors, at most 3 expected; closed them");
  EXPECT_EQ(open_fds(), before);
  // Twenty: more than fit, the kernel cuts them (MSG_CTRUNC); those that came are closed.
  p.a.send_frame(frame, files.raw(20));
  const std::string cut = error_of(p.b);
  EXPECT_NE(cut.find("more descriptors than fit (at most 3)"), std::string::npos) << cut;
  EXPECT_EQ(open_fds(), before);
  // One on a type that takes none: the assembler refuses it, and it is closed too.
  p.a.send_frame(control::encode_frames(control::Type::kGet, 2, "name=wg0\n")[0], files.raw(1));
  EXPECT_EQ(error_of(p.b), "control: Get with 1 descriptors, expected 0 to 0");
  EXPECT_EQ(open_fds(), before);
  // A whole message, then its fields decoded: the descriptors went with the message's owner.
  {
    const control::AddDevice add{"wg0", 1420, {}, {1, false, false, false}, {}};
    control::Message m = control::encode_request(add, 3);
    m.fds = 3;  // three descriptors, where its fields want two
    p.a.send(m, files.raw(3));
    ReceivedMessage got = p.b.receive();
    EXPECT_THROW(control::decode_request(got.message), control::ProtocolError);
  }
  EXPECT_EQ(open_fds(), before);
  // The channel still works after every refusal.
  p.a.send(get_message(4));
  EXPECT_EQ(p.b.receive().message.id, 4u);
}

TEST(ControlChannel, ADatagramLongerThanAFrameIsRefused) {
  Pair p;
  const std::vector<uint8_t> big(control::kMaxFrame + 1, 'W');
  EXPECT_THROW(p.a.send_frame(big), SystemError);  // not sent by the channel itself
  ASSERT_EQ(::send(p.a.fd(), big.data(), big.size(), 0), static_cast<ssize_t>(big.size()));
  EXPECT_EQ(error_of(p.b),
            "control: a datagram over 64 KiB, longer than any frame; cut and dropped");
  // A frame that says more than it carries is the assembler's to refuse.
  auto frame = control::encode_frames(control::Type::kGet, 1, "name=wg0\n")[0];
  frame.pop_back();
  p.a.send_frame(frame);
  EXPECT_EQ(error_of(p.b), "control: Get frame says 9 bytes of body and carries 8");
  p.a.send(get_message(5));
  EXPECT_EQ(p.b.receive().message.id, 5u);
}

TEST(ControlChannel, EndOfFileIsReportedAsSuch) {
  auto s = socket_pair();
  ControlChannel b(std::move(s[1]));
  {
    ControlChannel a(std::move(s[0]));
    a.send(get_message(1));
  }                                       // a's end closes
  EXPECT_EQ(b.receive().message.id, 1u);  // what was sent before the close still arrives
  EXPECT_THROW(b.receive(), ChannelClosed);
  EXPECT_THROW(b.send(get_message(2)), ChannelClosed);
  // An empty datagram from a live peer is not the end: the assembler refuses it as a frame.
  Pair q;
  ASSERT_EQ(::send(q.a.fd(), "", 0, 0), 0);
  EXPECT_EQ(error_of(q.b), "control: frame of 0 bytes, shorter than a header");
}

TEST(ControlChannel, WaitsEndAtTheDeadline) {
  Pair p(150ms);
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(p.b.receive(), ChannelTimeout);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 2s);

  // Half a message: the rest must come within the same deadline, and what came is dropped.
  auto first = control::encode_frames(control::Type::kUapiSet, 3,
                                      "name=wg0\n\n" + std::string(70000, 'x'))[0];
  p.a.send_frame(first);
  EXPECT_THROW(p.b.receive(), ChannelTimeout);
  p.a.send(get_message(4));
  EXPECT_EQ(p.b.receive().message.id, 4u);

  // A peer that does not read: sending waits for room, up to the deadline.
  const auto frame = control::encode_frames(control::Type::kGet, 1, std::string(60000, 'y'))[0];
  start = std::chrono::steady_clock::now();
  try {
    for (int i = 0; i < 10000; i++) p.a.send_frame(frame);
    FAIL() << "the socket never filled";
  } catch (const ChannelTimeout& e) {
    EXPECT_STREQ(e.what(), "control: no room to send within 150 ms");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}
