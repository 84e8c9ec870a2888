// The `external` backend on its own (no Docker, no wgnetd): Debian's wireguard-go, driven over its
// UAPI socket, inside a private network namespace this process enters first (unshare), so no link
// of the host is touched. The UAPI socket directory (/var/run/wireguard) is the host's filesystem,
// so the devices get names of this process ("wgit<pid><letter>", not wgnet-*: a wgnetd starting
// elsewhere reconciles wgnet-* devices) and every test removes them in TearDown. Needs root.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>

#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "netlink/rtnl.h"
#include "private_netns.h"
#include "util/error.h"
#include "util/process.h"
#include "wg/external.h"
#include "wg/uapi.h"

using namespace wgnet;
using namespace wgnet::netlink;

namespace {

constexpr uint32_t kMtu = 1380;
constexpr uint16_t kPortA = 51901;
constexpr uint16_t kPortB = 51902;

crypto::Key random_private_key() {
  crypto::Key k;
  std::ifstream("/dev/urandom", std::ios::binary).read(reinterpret_cast<char*>(k.data()), k.size());
  crypto::clamp(k);
  return k;
}

Cidr cidr(const char* text) { return *Cidr::parse(text); }

std::vector<std::string> sorted_strs(const std::vector<Cidr>& v) {
  std::vector<std::string> out;
  for (const auto& c : v) out.push_back(c.str());
  std::sort(out.begin(), out.end());
  return out;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Live wireguard-go processes serving `ifname` (its last argument), found by a /proc scan: the
// test's own view of what runs, independent of the backend's bookkeeping.
std::vector<pid_t> wireguard_go_pids(const std::string& ifname) {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    pid_t pid = static_cast<pid_t>(std::atoi(entry.path().filename().c_str()));
    if (pid <= 0 || !process::start_time(pid)) continue;
    auto argv = process::cmdline(pid);
    if (argv.size() < 2 || argv.back() != ifname) continue;
    auto slash = argv[0].rfind('/');
    if (argv[0].substr(slash == std::string::npos ? 0 : slash + 1) == "wireguard-go")
      out.push_back(pid);
  }
  return out;
}

// The environment of a live process, "K=V" each.
std::vector<std::string> environ_of(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::vector<std::string> out;
  for (std::string kv; std::getline(f, kv, '\0');) out.push_back(kv);
  return out;
}

class ExternalBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)";
    std::string why;
    ASSERT_TRUE(wg::ExternalBackend::program_available("wireguard-go", &why)) << why;
    // Before the backend starts its supervisor thread: the wireguard-go processes are forked
    // from this thread, into its namespace.
    ASSERT_NO_FATAL_FAILURE(wgnet::itest::enter_private_netns());
    rtnl::set_up("lo", true);  // the endpoints are 127.0.0.1
    prefix_ = "wgit" + std::to_string(getpid());
    a_ = prefix_ + "a";
    b_ = prefix_ + "b";
    c_ = prefix_ + "c";
    for (const auto& n : {a_, b_, c_})
      ASSERT_FALSE(file_exists(wg::uapi::socket_path(n)))
          << wg::uapi::socket_path(n) << " exists before the test (left by an earlier process?)";
    backend_ = std::make_unique<wg::ExternalBackend>(wg::ExternalBackend::Options{});
  }

  // Even when the test failed: no device, socket or process of ours stays.
  void TearDown() override {
    if (!backend_) return;
    for (const auto& n : {a_, b_}) backend_->remove(ref(n));
    if (rtnl::ifindex(c_)) rtnl::delete_link(c_);
    backend_.reset();
    for (const auto& n : {a_, b_, c_}) {
      EXPECT_FALSE(file_exists(wg::uapi::socket_path(n))) << "TearDown left " << n << ".sock";
      EXPECT_TRUE(wireguard_go_pids(n).empty()) << "TearDown left a wireguard-go for " << n;
    }
  }

  // A device listening on `port` with one peer, at 127.0.0.1:`peer_port`.
  wg::DeviceConfig config(const crypto::Key& private_key, uint16_t port,
                          const crypto::Key& peer_public, uint16_t peer_port, uint16_t keepalive,
                          std::vector<Cidr> allowed) {
    wg::DeviceConfig c;
    c.private_key = private_key;
    c.listen_port = port;
    wg::PeerConfig p;
    p.public_key = peer_public;
    p.endpoint = wg::Endpoint::parse("127.0.0.1:" + std::to_string(peer_port));
    p.persistent_keepalive = keepalive;
    p.allowed_ips = std::move(allowed);
    c.peers.push_back(std::move(p));
    return c;
  }

  // Devices are named by the handle create() returned, as the driver does.
  wg::DeviceRef ref(const std::string& ifname) { return {ifname, handles_[ifname], ""}; }
  void create(const std::string& ifname, const wg::DeviceConfig& c, uint32_t mtu) {
    handles_[ifname] = backend_->create(ifname, c, mtu);
  }

  std::map<std::string, std::string> handles_;
  std::string prefix_, a_, b_, c_;
  std::unique_ptr<wg::ExternalBackend> backend_;
  crypto::Key key_a_ = random_private_key();
  crypto::Key key_b_ = random_private_key();
};

}  // namespace

TEST_F(ExternalBackendTest, CreateConfiguresDevice) {
  auto pub_b = crypto::public_key(key_b_);
  create(
      a_, config(key_a_, kPortA, pub_b, kPortB, 25, {cidr("10.77.0.2/32"), cidr("10.77.1.0/24")}),
      kMtu);

  auto link = rtnl::find_link(a_);
  ASSERT_TRUE(link) << a_ << " is not a link in this namespace";
  EXPECT_EQ(link->mtu, kMtu);
  EXPECT_EQ(link->kind, "tun");
  EXPECT_TRUE(backend_->exists(ref(a_)));
  EXPECT_TRUE(file_exists(wg::uapi::socket_path(a_)));
  EXPECT_EQ(wireguard_go_pids(a_).size(), 1u);

  auto st = backend_->status(ref(a_));
  ASSERT_TRUE(st.public_key);
  EXPECT_EQ(crypto::key_to_base64(*st.public_key),
            crypto::key_to_base64(crypto::public_key(key_a_)));
  EXPECT_EQ(st.listen_port, kPortA);
  ASSERT_EQ(st.peers.size(), 1u);
  const auto& peer = st.peers[0];
  EXPECT_EQ(crypto::key_to_base64(peer.public_key), crypto::key_to_base64(pub_b));
  ASSERT_TRUE(peer.endpoint);
  EXPECT_EQ(peer.endpoint->str(), "127.0.0.1:" + std::to_string(kPortB));
  EXPECT_EQ(peer.persistent_keepalive, 25);
  EXPECT_EQ(sorted_strs(peer.allowed_ips),
            (std::vector<std::string>{"10.77.0.2/32", "10.77.1.0/24"}));
  EXPECT_EQ(peer.last_handshake_sec, 0) << "a handshake with a peer that does not exist";
}

TEST_F(ExternalBackendTest, TwoDevicesHandshake) {
  auto pub_a = crypto::public_key(key_a_), pub_b = crypto::public_key(key_b_);
  create(a_, config(key_a_, kPortA, pub_b, kPortB, 25, {cidr("10.77.0.2/32")}), kMtu);
  create(b_, config(key_b_, kPortB, pub_a, kPortA, 25, {cidr("10.77.0.1/32")}), kMtu);
  // Up, with addresses: persistent keepalive makes each side start a handshake.
  ASSERT_EQ(std::system(("ip addr add 10.77.0.1/24 dev " + a_).c_str()), 0);
  ASSERT_EQ(std::system(("ip addr add 10.77.0.2/24 dev " + b_).c_str()), 0);
  rtnl::set_up(a_, true);
  rtnl::set_up(b_, true);

  auto handshake = [&](const std::string& dev) {
    auto st = backend_->status(ref(dev));
    return st.peers.size() == 1 ? st.peers[0].last_handshake_sec : int64_t{0};
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while ((handshake(a_) == 0 || handshake(b_) == 0) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  for (const auto& dev : {a_, b_}) {
    auto st = backend_->status(ref(dev));
    ASSERT_EQ(st.peers.size(), 1u) << dev;
    const auto& peer = st.peers[0];
    EXPECT_GT(peer.last_handshake_sec, 0) << dev << ": no handshake within 15 s";
    if (peer.last_handshake_sec > 0) {
      EXPECT_LE(now - peer.last_handshake_sec, 60)
          << dev << ": handshake at " << peer.last_handshake_sec;
    }
    EXPECT_GT(peer.rx_bytes, 0u) << dev << " received nothing";
    EXPECT_GT(peer.tx_bytes, 0u) << dev << " sent nothing";
  }
}

TEST_F(ExternalBackendTest, RemoveTakesLinkSocketAndProcess) {
  create(
      a_, config(key_a_, kPortA, crypto::public_key(key_b_), kPortB, 25, {cidr("10.77.0.2/32")}),
      kMtu);
  ASSERT_TRUE(rtnl::ifindex(a_));
  ASSERT_TRUE(file_exists(wg::uapi::socket_path(a_)));
  ASSERT_EQ(wireguard_go_pids(a_).size(), 1u);

  backend_->remove(ref(a_));
  EXPECT_FALSE(rtnl::ifindex(a_)) << "the link stays";
  EXPECT_FALSE(file_exists(wg::uapi::socket_path(a_))) << "the UAPI socket stays";
  EXPECT_TRUE(wireguard_go_pids(a_).empty()) << "the wireguard-go process stays";
  EXPECT_FALSE(backend_->exists(ref(a_)));

  EXPECT_NO_THROW(backend_->remove(ref(a_)));  // gone already
  EXPECT_NO_THROW(backend_->remove(ref(b_)));  // never made
}

TEST_F(ExternalBackendTest, CreateOnATakenNameThrowsAndLeavesNothing) {
  auto cfg = config(key_a_, kPortA, crypto::public_key(key_b_), kPortB, 25, {cidr("10.77.0.2/32")});
  create(a_, cfg, kMtu);
  auto pids = wireguard_go_pids(a_);
  ASSERT_EQ(pids.size(), 1u);

  // Taken by a device of this backend: it stays as it was, served by the same process.
  auto other =
      config(key_b_, kPortB, crypto::public_key(key_a_), kPortA, 5, {cidr("10.77.0.1/32")});
  EXPECT_THROW(create(a_, other, 1400), SystemError);
  EXPECT_EQ(wireguard_go_pids(a_), pids);
  EXPECT_TRUE(backend_->exists(ref(a_)));
  auto link = rtnl::find_link(a_);
  ASSERT_TRUE(link);
  EXPECT_EQ(link->mtu, kMtu);
  auto st = backend_->status(ref(a_));
  ASSERT_TRUE(st.public_key);
  EXPECT_EQ(crypto::key_to_base64(*st.public_key),
            crypto::key_to_base64(crypto::public_key(key_a_)));
  EXPECT_EQ(st.listen_port, kPortA);

  // Taken by a link of another kind: no process, no socket, the link untouched.
  rtnl::create_link(c_, "veth");
  EXPECT_THROW(create(c_, cfg, kMtu), SystemError);
  EXPECT_TRUE(wireguard_go_pids(c_).empty());
  EXPECT_FALSE(file_exists(wg::uapi::socket_path(c_)));
  EXPECT_FALSE(backend_->exists(ref(c_)));
  link = rtnl::find_link(c_);
  ASSERT_TRUE(link) << "create() removed the link that had the name";
  EXPECT_EQ(link->kind, "veth");
}

TEST_F(ExternalBackendTest, AProcessThatOnlyLooksLikeOursIsNeverSignalled) {
  // Any local user can start a process whose command line reads "wireguard-go -f <ifname>".
  auto impostor = process::Process::spawn(
      {"bash", "-c", "exec -a wireguard-go /usr/bin/python3 -c 'import time; time.sleep(600)' -f " + a_},
      {}, "/dev/null");
  auto alive = [&] { return !impostor.exited(); };
  for (int i = 0; i < 100 && wireguard_go_pids(a_).empty(); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(wireguard_go_pids(a_).size(), 1u) << "the impostor does not look like wireguard-go";
  backend_->remove({a_, "", ""});
  EXPECT_TRUE(alive()) << "remove() without a handle signalled a process found by its name";
  auto wrong = impostor.id();
  wrong.start_time += 1;  // the PID of a process that has since been replaced
  backend_->remove({a_, wrong.str(), ""});
  EXPECT_TRUE(alive()) << "remove() signalled a process whose start time does not match";
  EXPECT_FALSE(backend_->adopt({a_, wrong.str(), ""}, std::nullopt, kMtu));
  EXPECT_TRUE(impostor.terminate());
}

TEST_F(ExternalBackendTest, ANewBackendAdoptsByHandleAndRemovesWhatItAdopted) {
  create(a_, config(key_a_, kPortA, crypto::public_key(key_b_), kPortB, 0, {cidr("10.77.0.2/32")}),
         kMtu);
  auto pids = wireguard_go_pids(a_);
  ASSERT_EQ(pids.size(), 1u);
  // A restart: the old backend goes, its devices and processes stay.
  backend_ = std::make_unique<wg::ExternalBackend>(wg::ExternalBackend::Options{});
  EXPECT_EQ(wireguard_go_pids(a_), pids);
  EXPECT_TRUE(backend_->adopt(ref(a_), std::nullopt, kMtu));
  backend_->remove(ref(a_));
  EXPECT_TRUE(wireguard_go_pids(a_).empty()) << "the adopted process was not stopped";
  EXPECT_FALSE(backend_->adopt(ref(a_), std::nullopt, kMtu)) << "adopted a process that is gone";
}

TEST_F(ExternalBackendTest, AnInheritedLogLevelDoesNotReachTheProgram) {
  ::setenv("LOG_LEVEL", "debug", 1);
  create(a_, config(key_a_, kPortA, crypto::public_key(key_b_), kPortB, 0, {cidr("10.77.0.2/32")}),
         kMtu);
  ::unsetenv("LOG_LEVEL");
  auto pids = wireguard_go_pids(a_);
  ASSERT_EQ(pids.size(), 1u);
  auto env = environ_of(pids[0]);
  EXPECT_EQ(std::count(env.begin(), env.end(), "LOG_LEVEL=error"), 1);
  EXPECT_EQ(std::count(env.begin(), env.end(), "LOG_LEVEL=debug"), 0);
}

TEST_F(ExternalBackendTest, ADeathIsReportedAtOnce) {
  std::atomic<int> lost{0};
  std::string lost_name;
  std::mutex m;
  backend_->on_lost([&](const std::string& ifname) {
    std::lock_guard lock(m);
    lost_name = ifname;
    lost++;
  });
  create(a_, config(key_a_, kPortA, crypto::public_key(key_b_), kPortB, 0, {cidr("10.77.0.2/32")}),
         kMtu);
  auto pids = wireguard_go_pids(a_);
  ASSERT_EQ(pids.size(), 1u);
  ASSERT_EQ(::kill(pids[0], SIGKILL), 0);
  for (int i = 0; i < 200 && lost == 0; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(lost.load(), 1) << "no report within 2 s";
  backend_->on_lost(nullptr);
  std::lock_guard lock(m);
  EXPECT_EQ(lost_name, a_);
}
