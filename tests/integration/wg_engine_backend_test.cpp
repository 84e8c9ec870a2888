// The engine backend's devices against the kernel, in a network namespace of this test process:
// who may take a persistent TUN device over while no engine holds it (wgnetd stopped).
#include <fcntl.h>
#include <grp.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "crypto/dh.h"
#include "engine/linux/tun_linux.h"
#include "netlink/rtnl.h"
#include "private_netns.h"
#include "wg/engine_backend.h"

using namespace wgnet;
namespace rtnl = wgnet::netlink::rtnl;

namespace {

constexpr uid_t kOwner = 4320;  // the backend's --engine-user in these tests
constexpr uid_t kOther = 4321;  // a process in a container: not root, no capability

// TUNSETIFF on the existing device `name` from a child running as kOther: the errno it got
// (0: it attached, and could read what the container sends).
int attach_as_other_user(const std::string& name) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(kOther) != 0 || ::setuid(kOther) != 0) _exit(200);
    const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) _exit(201);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
    _exit(::ioctl(fd, TUNSETIFF, &ifr) == 0 ? 0 : errno);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

class EngineBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_NET_ADMIN)";
    ASSERT_NO_FATAL_FAILURE(itest::enter_private_netns());
    name_ = "wgeb" + std::to_string(getpid() % 100000);
    config_.private_key = crypto::generate_private_key();
  }
  void TearDown() override {
    backend_.reset();
    if (!name_.empty() && rtnl::ifindex(name_)) rtnl::delete_link(name_);
  }
  std::unique_ptr<wg::EngineBackend> make_backend() {
    wg::EngineBackend::Options o;
    o.uapi_dir = "";  // no UAPI socket: nothing outside the namespace is touched
    o.workers = 1;
    o.tun_owner = kOwner;
    return std::make_unique<wg::EngineBackend>(o);
  }

  std::string name_;
  wg::DeviceConfig config_;
  std::unique_ptr<wg::EngineBackend> backend_;
};

}  // namespace

TEST_F(EngineBackendTest, NoOtherUserAttachesToADeviceNoEngineHolds) {
  backend_ = make_backend();
  const std::string handle = backend_->create(name_, config_, 1420);
  const auto ifindex = rtnl::ifindex(name_);
  ASSERT_TRUE(ifindex);
  EXPECT_EQ(attach_as_other_user(name_), EPERM) << "while the engine holds it";
  backend_.reset();  // wgnetd stopped: the persistent device stays, nobody holds it
  ASSERT_EQ(rtnl::ifindex(name_), ifindex);
  EXPECT_EQ(attach_as_other_user(name_), EPERM) << "another user attached to a device left alone";
  // The next wgnetd still takes it back.
  backend_ = make_backend();
  EXPECT_TRUE(backend_->adopt({name_, handle, ""}, config_, 1420));
  EXPECT_EQ(rtnl::ifindex(name_), ifindex);
}

TEST_F(EngineBackendTest, ReattachGivesAnOwnerToADeviceThatHadNone) {
  // As an older wgnetd left it: persistent, no owner.
  engine::TunOptions o;
  o.name = name_;
  o.alias = name_;
  o.persist = true;
  engine::TunLinux::create(o).reset();
  ASSERT_TRUE(rtnl::ifindex(name_));
  backend_ = make_backend();
  ASSERT_TRUE(backend_->adopt({name_, "port=0", ""}, config_, 1420));
  backend_.reset();
  EXPECT_EQ(attach_as_other_user(name_), EPERM);
}
