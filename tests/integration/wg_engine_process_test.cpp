// The engine backend with the engine in a process of its own (wg/engine_process_backend.h), as
// wgnetd --engine-process runs it: the real `wgnet-engine --supervised`, sandboxed, serving a
// device this backend made in namespace a, with an in-process engine as the peer in namespace b.
// What a user sees: pings through it; the engine process holds no capability; when it is killed,
// another takes over the same device (same ifindex, same port) and the pings come back; a
// reconfigured port; a deleted link reported lost; nothing left after remove; what `wg set`
// changed survives a replaced engine. Root.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../unit/temp_dir.h"
#include "crypto/dh.h"
#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "engine/linux/test_hooks.h"
#include "netlink/rtnl.h"
#include "peer_pair.h"
#include "proc_self.h"
#include "util/fd.h"
#include "util/process.h"
#include "util/unix_address.h"
#include "wg/engine_process_backend.h"

#ifndef WGNET_ENGINE_PROGRAM
#error "WGNET_ENGINE_PROGRAM must name wgnet-engine"
#endif

namespace wgnet::wg {
namespace {

namespace rtnl = netlink::rtnl;
using namespace std::chrono_literals;

class EngineProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    net_ = std::make_unique<itest::PeerPair>(62);
    root_ = std::make_unique<testing::TempDir>("wgnet-engine-root");
    ::chmod(root_->path().c_str(), 0555);
    state_ = std::make_unique<testing::TempDir>("wgnet-engine-state");
    make_backend(false);
  }

  // A backend as wgnetd makes it; `outlive`: with a listening socket, so its engine outlives it
  // and the next backend takes it over (wgnetd's default).
  void make_backend(bool outlive) {
    net_->a->run([&] {
      EngineProcessBackend::Options o;
      o.uapi_dir = uapi_dir_;  // none unless a test asks: nothing outside its own is touched
      o.tun_owner = 65534;
      o.process.program = WGNET_ENGINE_PROGRAM;
      o.process.root = root_->path().string();
      o.process.workers = 1;
      o.process.env = {"ASAN_OPTIONS=detect_leaks=0"};
      o.process.on_replaced = [this](std::string_view reason) {
        std::lock_guard lock(reasons_mu_);
        reasons_.emplace_back(reason);
      };
      if (outlive) {
        o.process.listen_path = (state_->path() / "engine.sock").string();
        o.process.pid_file = (state_->path() / "engine.pid").string();
      }
      backend_ = std::make_unique<EngineProcessBackend>(std::move(o));
    });
    backend_->on_lost([this](const std::string& name) {
      if (name == "wgs1") lost_ = true;
    });
  }
  void drop_backend() {
    backend_->on_lost(nullptr);
    net_->a->run([&] { backend_.reset(); });
  }
  void TearDown() override {
    if (backend_) backend_->on_lost(nullptr);
    if (net_) net_->a->run([&] { backend_.reset(); });
    net_.reset();
  }

  DeviceConfig config() const { return net_->config_a(); }

  // Creates wgs0 in namespace a with the tunnel address, up; returns its handle.
  std::string create() {
    std::string handle;
    net_->a->run([&] {
      handle = backend_->create("wgs0", config(), 1420);
      rtnl::add_address("wgs0", *Cidr::parse(net_->tunnel(1) + "/24"));
      rtnl::set_up("wgs0", true);
    });
    return handle;
  }

  bool ping(const std::string& options = "-c 2 -i 0.2 -W 2") { return net_->ping(options); }

  int ifindex(const std::string& name) {
    int i = 0;
    net_->a->run([&] { i = rtnl::ifindex(name).value_or(0); });
    return i;
  }

  std::unique_ptr<itest::PeerPair> net_;
  std::unique_ptr<testing::TempDir> root_, state_;
  std::string uapi_dir_;
  std::mutex reasons_mu_;
  std::vector<std::string> reasons_;  // on_replaced's, in order
  std::vector<std::string> reasons() {
    std::lock_guard lock(reasons_mu_);
    return reasons_;
  }
  std::unique_ptr<EngineProcessBackend> backend_;
  std::atomic<bool> lost_{false};
};

TEST_F(EngineProcess, CarriesTrafficFromASandboxedProcessAndHoldsNoPrivilege) {
  const std::string handle = create();
  EXPECT_TRUE(ping()) << "no answer through the engine process";
  const pid_t pid = backend_->engine_pid();
  ASSERT_GT(pid, 0);
  EXPECT_NE(pid, ::getpid());
  auto status = itest::proc_status(pid);
  EXPECT_EQ(status["Uid"], "65534\t65534\t65534\t65534");
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
    EXPECT_EQ(status[set], "0000000000000000") << set;
  EXPECT_EQ(status["NoNewPrivs"], "1");
  EXPECT_EQ(status["Seccomp"], "2");

  const DeviceStatus s = backend_->status({"wgs0", handle, ""});
  EXPECT_EQ("port=" + std::to_string(s.listen_port), handle);
  ASSERT_EQ(s.peers.size(), 1u);
  EXPECT_GT(s.peers[0].last_handshake_sec, 0);
  EXPECT_FALSE(s.private_key) << "status() must carry no secret";
  EXPECT_TRUE(backend_->exists({"wgs0", handle, ""}));
}

TEST_F(EngineProcess, AKilledEngineIsReplacedAndTheSameDeviceCarriesAgain) {
  const std::string handle = create();
  ASSERT_TRUE(ping());
  const int index = ifindex("wgs0");
  const pid_t first = backend_->engine_pid();
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  const auto killed = std::chrono::steady_clock::now();
  // The pings come back through the same device (a new handshake on the old port).
  bool answered = false;
  while (!answered && std::chrono::steady_clock::now() - killed < 10s) answered = ping("-c 1 -W 1");
  const auto took = std::chrono::steady_clock::now() - killed;
  ASSERT_TRUE(answered) << "no answer 10 s after the engine process was killed";
  RecordProperty(
      "resumed_ms",
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  EXPECT_EQ(backend_->engine_restarts(), 1u);
  EXPECT_EQ(reasons(), std::vector<std::string>{"signal"}) << "wgnet_engine_restarts_total's";
  EXPECT_NE(backend_->engine_pid(), first);
  EXPECT_GT(backend_->engine_pid(), 0);
  EXPECT_EQ(ifindex("wgs0"), index) << "the device must be the same";
  EXPECT_EQ("port=" + std::to_string(backend_->status({"wgs0", handle, ""}).listen_port), handle);
}

TEST_F(EngineProcess, AForbiddenCallKillsTheEngineAndAnotherCarriesOn) {
  if (!engine::test_hooks::enabled()) GTEST_SKIP() << "the SIGUSR2 trigger needs a test build";
  create();
  ASSERT_TRUE(ping());
  const pid_t first = backend_->engine_pid();
  // The engine attempts openat(2) (test_hooks::install_forbidden_call_trigger): its filter kills
  // it.
  ASSERT_EQ(::kill(first, SIGUSR2), 0);
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (backend_->engine_restarts() == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(backend_->engine_restarts(), 1u) << "the engine was not replaced";
  EXPECT_NE(::kill(first, 0), 0) << "the first engine still runs";
  EXPECT_EQ(reasons(), std::vector<std::string>{"seccomp"});
  bool answered = false;
  for (int i = 0; i < 10 && !answered; i++) answered = ping("-c 1 -W 1");
  EXPECT_TRUE(answered) << "no answer through the replacement";
}

TEST_F(EngineProcess, ReconfiguresThePortRemovesAndReportsALostDevice) {
  const std::string handle = create();
  ASSERT_TRUE(ping());
  DeviceConfig c = config();
  c.listen_port = 51899;
  net_->a->run([&] { backend_->configure({"wgs0", handle, ""}, c, 1380); });
  EXPECT_EQ(backend_->status({"wgs0", handle, ""}).listen_port, 51899);
  EXPECT_TRUE(ping()) << "no answer after the port changed";
  net_->a->run([&] { EXPECT_EQ(rtnl::find_link("wgs0")->mtu, 1380u); });

  net_->a->run([&] { backend_->remove({"wgs0", handle, ""}); });
  EXPECT_EQ(ifindex("wgs0"), 0) << "remove left the link";
  EXPECT_FALSE(backend_->exists({"wgs0", handle, ""}));

  // A device whose link someone deletes: reported lost, no longer existing.
  std::string h1;
  net_->a->run([&] { h1 = backend_->create("wgs1", config(), 1420); });
  net_->a->run([&] { rtnl::delete_link("wgs1"); });
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (!lost_ && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(lost_) << "no lost report for a deleted link";
  EXPECT_FALSE(backend_->exists({"wgs1", h1, ""}));
  net_->a->run([&] { backend_->remove({"wgs1", h1, ""}); });
  EXPECT_EQ(backend_->engine_restarts(), 0u) << "nothing here should have cost the engine";
}

// Whether `pid` (an engine this test process started, so its child) ends within 5 s; reaps it.
// Otherwise kills and reaps it, so no engine outlives the test.
bool ends_by_itself(pid_t pid) {
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return true;
    std::this_thread::sleep_for(20ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return false;
}

// One request to a UAPI socket, as `wg set` sends it; the reply.
std::string uapi_request(const std::string& socket, const std::string& request) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const sockaddr_un addr = unix_address(socket);
  if (!fd || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    return "connect failed";
  if (::write(fd.get(), request.data(), request.size()) != static_cast<ssize_t>(request.size()))
    return "write failed";
  std::string reply;
  char buf[4096];
  ssize_t n;
  while (reply.find("\n\n") == std::string::npos && (n = ::read(fd.get(), buf, sizeof buf)) > 0)
    reply.append(buf, static_cast<size_t>(n));
  return reply;
}

TEST_F(EngineProcess, WhatWgSetChangedOutlivesTheEngine) {
  testing::TempDir uapi("wgnet-uapi");
  drop_backend();
  uapi_dir_ = uapi.path().string();
  make_backend(false);
  const std::string handle = create();
  ASSERT_TRUE(ping());
  // wg set: the peer's keepalive, and a second peer (a key nobody holds).
  const crypto::Key other = crypto::public_key(crypto::generate_private_key());
  const std::string set =
      "set=1\npublic_key=" + crypto::hex_encode(crypto::public_key(net_->key_b).span()) +
      "\npersistent_keepalive_interval=7\npublic_key=" + crypto::hex_encode(other.span()) +
      "\nallowed_ip=10.99.0.0/24\n\n";
  ASSERT_EQ(uapi_request((uapi.path() / "wgs0.sock").string(), set), "errno=0\n\n");

  ASSERT_EQ(::kill(backend_->engine_pid(), SIGKILL), 0);
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (backend_->engine_restarts() == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(backend_->engine_restarts(), 1u) << "the engine was not replaced";
  bool answered = false;
  for (int i = 0; i < 10 && !answered; i++) answered = ping("-c 1 -W 1");
  EXPECT_TRUE(answered) << "no answer through the replacement";
  const DeviceStatus s = backend_->status({"wgs0", handle, ""});
  ASSERT_EQ(s.peers.size(), 2u) << "the peer wg set added is gone with the engine";
  for (const PeerStatus& p : s.peers) {
    if (p.public_key == other) {
      ASSERT_EQ(p.allowed_ips.size(), 1u);
      EXPECT_EQ(p.allowed_ips[0].str(), "10.99.0.0/24");
    } else {
      EXPECT_EQ(p.persistent_keepalive, 7) << "the keepalive wg set gave is gone with the engine";
    }
  }
}

TEST_F(EngineProcess, OutlivesWgnetdAndTheNextOneTakesItOver) {
  drop_backend();
  make_backend(true);
  const std::string handle = create();
  ASSERT_TRUE(ping());
  const pid_t engine = backend_->engine_pid();
  const int index = ifindex("wgs0");
  // A second device, whose endpoint will be gone from the state when the next wgnetd starts.
  DeviceConfig orphan;
  orphan.private_key = crypto::generate_private_key();
  net_->a->run([&] { backend_->create("wgs2", orphan, 1420); });
  ASSERT_GT(ifindex("wgs2"), 0);

  drop_backend();  // wgnetd stops (or dies): the engine carries on
  EXPECT_EQ(::kill(engine, 0), 0) << "the engine ended with its wgnetd";
  EXPECT_TRUE(ping()) << "no answer while no wgnetd runs";

  make_backend(true);  // the next wgnetd: takes the same engine over, then adopts the device
  EXPECT_EQ(backend_->engine_pid(), engine) << "not taken over: another engine was started";
  DeviceConfig c = config();
  bool adopted = false;
  net_->a->run([&] { adopted = backend_->adopt({"wgs0", handle, ""}, c, 1420); });
  EXPECT_TRUE(adopted);
  // Restored: a device the state has a row for is left alone even when nothing adopted it
  // (reconcile skipped it); one it has none for is deleted (not held until the next restart).
  backend_->restored([](const std::string& name) { return name == "wgs2"; });
  std::this_thread::sleep_for(200ms);
  EXPECT_GT(ifindex("wgs2"), 0) << "deleted a device the state still has a row for";
  backend_->restored([](const std::string&) { return false; });
  const auto gone_by = std::chrono::steady_clock::now() + 2s;
  while (ifindex("wgs2") != 0 && std::chrono::steady_clock::now() < gone_by)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(ifindex("wgs2"), 0) << "a device handed back that nothing adopted is still there";
  EXPECT_TRUE(ping()) << "no answer after the takeover";
  EXPECT_EQ(ifindex("wgs0"), index);
  EXPECT_EQ("port=" + std::to_string(backend_->status({"wgs0", handle, ""}).listen_port), handle);
  EXPECT_EQ(backend_->engine_restarts(), 0u);

  // With its last device removed, the engine ends once its wgnetd is gone.
  net_->a->run([&] { backend_->remove({"wgs0", handle, ""}); });
  drop_backend();
  // This test process started it (the first backend), so it reaps it here, as init would reap an
  // engine whose wgnetd is gone.
  EXPECT_TRUE(ends_by_itself(engine)) << "an engine with no device outlived its wgnetd";
}

// engine.pid names a live process that is no engine of this wgnetd (a PID reused, a file someone
// wrote): the next wgnetd neither kills that process nor takes the engine on engine.sock over; it
// starts its own. The old engine keeps its device until the device is rebuilt, then ends.
TEST_F(EngineProcess, TakesNothingOverThatThePidFileDoesNotName) {
  drop_backend();
  make_backend(true);
  const std::string handle = create();
  ASSERT_TRUE(ping());
  const pid_t old_engine = backend_->engine_pid();
  drop_backend();

  const pid_t other = ::fork();
  if (other == 0) {
    ::execl("/bin/sleep", "sleep", "30", nullptr);
    ::_exit(127);
  }
  ASSERT_GT(other, 0);
  std::optional<uint64_t> start;
  for (int i = 0; i < 100 && (!start || process::cmdline(other).size() < 2); i++) {
    std::this_thread::sleep_for(10ms);
    start = process::start_time(other);
  }
  ASSERT_TRUE(start);
  {
    std::ofstream pid_file(state_->path() / "engine.pid", std::ios::trunc);
    pid_file << process::ProcessId{other, *start}.str() << "\n";
  }
  make_backend(true);
  EXPECT_NE(backend_->engine_pid(), old_engine) << "took over an engine engine.pid does not name";
  EXPECT_EQ(::kill(other, 0), 0) << "killed the process engine.pid names, which is no engine";
  EXPECT_EQ(::kill(old_engine, 0), 0) << "killed an engine it could not identify";
  ::kill(other, SIGKILL);
  ::waitpid(other, nullptr, 0);

  // The device is still the old engine's (its TUN attached there): the driver rebuilds it, and
  // the old engine, with no device left, ends (this test process started it: it reaps it here).
  bool adopted = true;
  net_->a->run([&] { adopted = backend_->adopt({"wgs0", handle, ""}, config(), 1420); });
  EXPECT_FALSE(adopted) << "adopted a TUN another engine holds";
  net_->a->run([&] { backend_->remove({"wgs0", handle, ""}); });
  EXPECT_TRUE(ends_by_itself(old_engine)) << "the engine nobody took over outlived its device";
  const std::string again = create();
  EXPECT_TRUE(ping()) << "no answer through the device made again";
  // Its engine outlives the backend while it has a device: remove it, then reap that engine.
  const pid_t engine = backend_->engine_pid();
  net_->a->run([&] { backend_->remove({"wgs0", again, ""}); });
  drop_backend();
  EXPECT_TRUE(ends_by_itself(engine));
}

}  // namespace
}  // namespace wgnet::wg
