// `wgnet-engine --supervised` as wgnetd will run it (docs/PRIVSEP-PLAN.md §1-3): a real process,
// sandboxed, holding only what it is handed over a SOCK_SEQPACKET control socket. This test plays
// wgnetd: it creates the TUN and the UDP sockets in one namespace, hands them over with AddDevice
// and the device's keys, and pings through them to a peer engine (wgnet's own, in process) in a
// second namespace joined by a veth. Then: the process's /proc status (no capability in any set,
// no-new-privileges, seccomp, unprivileged ids, empty root), Info and Get answered, a wrong
// descriptor refused without harm, and the engine gone once the control socket closes. Root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "../unit/temp_dir.h"
#include "engine/control/messages.h"
#include "engine/linux/control_channel.h"
#include "engine/linux/engine.h"
#include "engine/linux/tun_linux.h"
#include "engine/linux/udp_linux.h"
#include "engine_io_test_util.h"
#include "netlink/rtnl.h"
#include "peer_pair.h"
#include "proc_self.h"
#include "util/process.h"

#ifndef WGNET_ENGINE_PROGRAM
#error "WGNET_ENGINE_PROGRAM must name wgnet-engine"
#endif

namespace wgnet::engine {
namespace {

using namespace control;
namespace rtnl = netlink::rtnl;

using itest::proc_status;

class SupervisedEngine : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    net_ = std::make_unique<itest::PeerPair>(61);
    start_engine();
  }
  void TearDown() override {
    channel_.reset();
    if (engine_) engine_->terminate(std::chrono::milliseconds(2000));
    net_.reset();
  }

  void start_engine() {
    root_ = std::make_unique<testing::TempDir>("wgnet-engine-root");
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    Fd ours(sv[0]), theirs(sv[1]);
    process::SpawnOptions so;
    // A stray descriptor beside the control socket, a regular file: the engine must close it
    // before its sandbox (the fd checks of the first test see to it).
    Fd stray(::open("/etc/hostname", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(stray);
    so.pass_fds = {theirs.get(), stray.get()};
    so.inherit_stderr = true;
    so.replace_env = true;
    engine_ = std::make_unique<process::Process>(
        process::Process::spawn({WGNET_ENGINE_PROGRAM, "--supervised", "--control-fd=3",
                                 "--uid=65534", "--gid=65534", "--root=" + root_->path().string()},
                                {"LANG=C", "ASAN_OPTIONS=detect_leaks=0"}, "", so));
    channel_ = std::make_unique<ControlChannel>(std::move(ours));
  }

  FromEngine call(const Request& request, std::span<const int> fds = {}) {
    const uint32_t id = ++id_;
    channel_->send(encode_request(request, id), fds);
    for (;;) {
      ReceivedMessage in = channel_->receive();
      FromEngine m = decode_from_engine(in.message);
      if (in.message.id == id) return m;
    }
  }

  // The device, made as wgnetd makes it, in namespace a, and handed over.
  Reply add_device() {
    net_->a->run([&] {
      tun_ = TunLinux::release(itest::tun_with_address("wgs0", net_->tunnel(1) + "/24"));
      udp_ = UdpBindLinux::open(0);
    });
    AddDevice add;
    add.name = "wgs0";
    add.mtu = tun_.mtu;
    add.tun = {tun_.features.vnet_hdr, tun_.features.tso, tun_.features.uso};
    const UdpFeatures f = udp_->features();
    add.udp = {udp_->port(), f.gro, f.gso, f.ipv6};
    add.config = net_->config_a();
    add.config.listen_port = udp_->port();
    std::vector<int> fds{tun_.fd.get(), udp_->fd4()};
    if (f.ipv6) fds.push_back(udp_->fd6());
    auto reply = call(add, fds);
    return std::get<Reply>(reply);
  }

  bool ping() { return net_->ping(); }

  std::unique_ptr<itest::PeerPair> net_;
  std::unique_ptr<testing::TempDir> root_;
  std::unique_ptr<process::Process> engine_;
  std::unique_ptr<ControlChannel> channel_;
  TunHandoff tun_;  // our copies: what keeps the device and port across engines
  std::unique_ptr<UdpBindLinux> udp_;
  uint32_t id_ = 0;
};

TEST_F(SupervisedEngine, CarriesTrafficThroughHandedDescriptorsFromItsSandbox) {
  const auto hello = std::get<HelloReply>(call(Hello{}));
  EXPECT_EQ(hello.status.error, 0);
  EXPECT_EQ(hello.pid, static_cast<uint32_t>(engine_->id().pid));
  EXPECT_EQ(hello.devices, 0u);

  const Reply added = add_device();
  ASSERT_EQ(added.status.error, 0) << added.status.message;
  EXPECT_TRUE(ping()) << "no answer through the supervised engine";

  auto status = proc_status(engine_->id().pid);
  EXPECT_EQ(status["Uid"], "65534\t65534\t65534\t65534");
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
    EXPECT_EQ(status[set], "0000000000000000") << set;
  EXPECT_EQ(status["NoNewPrivs"], "1");
  EXPECT_EQ(status["Seccomp"], "2");
  const std::string base = "/proc/" + std::to_string(engine_->id().pid);
  EXPECT_EQ(std::filesystem::read_symlink(base + "/root"), root_->path());
  // Its descriptors: no regular file, no directory (what a filter bug could read from).
  for (const auto& e : std::filesystem::directory_iterator(base + "/fd")) {
    struct stat st {};
    ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
    EXPECT_FALSE(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) << e.path();
  }

  const auto info = std::get<InfoReply>(call(Info{"wgs0"}));
  EXPECT_EQ(info.status.error, 0);
  EXPECT_EQ(info.mtu, 1420u);
  EXPECT_EQ(info.listen_port, udp_->port());
  uint64_t tx = 0;
  for (const auto& c : info.counters)
    if (c.name == "udp.tx_datagrams") tx = c.value;
  EXPECT_GT(tx, 0u);
  const auto get = std::get<GetReply>(call(Get{"wgs0"}));
  const std::string text(reinterpret_cast<const char*>(get.uapi.data()), get.uapi.size());
  EXPECT_NE(text.find("last_handshake_time_sec="), std::string::npos);
  EXPECT_EQ(std::get<Reply>(call(SetMtu{"wgs0", 1380})).status.error, 0);
  EXPECT_EQ(std::get<InfoReply>(call(Info{"wgs0"})).mtu, 1380u);
  EXPECT_EQ(std::get<InfoReply>(call(Info{"nope"})).status.error, -ENODEV);
}

TEST_F(SupervisedEngine, WrongDescriptorsAreRefusedAndTheEngineCarriesOn) {
  ASSERT_EQ(add_device().status.error, 0);
  // A TCP socket where a UDP one belongs.
  Fd tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  AddDevice bad;
  bad.name = "wgs1";
  bad.mtu = 1420;
  bad.udp = {udp_->port(), false, false, false};
  int fds[] = {tun_.fd.get(), tcp.get()};
  const auto reply = std::get<Reply>(call(bad, fds));
  EXPECT_NE(reply.status.error, 0);
  EXPECT_EQ(std::get<Reply>(call(RemoveDevice{"nope"})).status.error, -ENODEV);
  EXPECT_TRUE(ping()) << "the first device stopped after a refused request";
}

TEST_F(SupervisedEngine, ALostDeviceIsReportedAndAskedAboutWithoutHarm) {
  ASSERT_EQ(add_device().status.error, 0);
  net_->a->run([] { ASSERT_TRUE(rtnl::delete_link("wgs0")); });
  // The event, unasked (id 0).
  std::optional<DeviceLost> lost;
  for (int i = 0; i < 20 && !lost; i++) {
    ReceivedMessage in = channel_->receive();
    FromEngine m = decode_from_engine(in.message);
    if (auto* e = std::get_if<DeviceLost>(&m)) lost = *e;
  }
  ASSERT_TRUE(lost) << "no DeviceLost event";
  EXPECT_EQ(lost->name, "wgs0");
  // Asking about it is answered (it once ended the engine: an empty name cannot be encoded).
  EXPECT_EQ(std::get<InfoReply>(call(Info{"wgs0"})).status.error, -ENODEV);
  EXPECT_EQ(std::get<HelloReply>(call(Hello{})).status.error, 0);
  EXPECT_EQ(std::get<Reply>(call(RemoveDevice{"wgs0"})).status.error, 0);
}

TEST_F(SupervisedEngine, ExitsWhenWgnetdClosesTheSocket) {
  ASSERT_EQ(add_device().status.error, 0);
  channel_.reset();
  int status = -1;
  for (int i = 0; i < 300 && !engine_->exited(&status); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(WIFEXITED(status)) << process::describe_wait_status(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The device is wgnetd's: it outlives the engine (our descriptor holds it).
  net_->a->run([] { EXPECT_TRUE(rtnl::find_link("wgs0").has_value()); });
}

}  // namespace
}  // namespace wgnet::engine
