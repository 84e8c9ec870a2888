// The state store: round trips, file mode, survival across reopen.
#include "driver/state.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

using namespace wgnet;
namespace fs = std::filesystem;

TEST(State, RoundTripAndReopen) {
  char tmpl[] = "/tmp/wgnet-state-test-XXXXXX";
  fs::path dir = fs::path(mkdtemp(tmpl)) / "state";
  {
    driver::StateStore s(dir.string());
    s.put_network({"n1",
                   {{"wgnet.seed", "c2VjcmV0"}, {"wgnet.endpoint", "198.18.0.2:1"}},
                   {"10.0.0.0/24"},
                   {},
                   "external"});
    s.put_endpoint({"n1", "e1", "10.0.0.2/24", "", "wgnet-e1", "external", ""});
    s.put_endpoint({"n1", "e2", "10.0.0.3/24", "fd00::3/64", "wgnet-e2", "external", ""});
    s.set_sandbox("e2", "/var/run/docker/netns/abc");
    s.delete_endpoint("e1");
  }
  struct stat st {};
  ASSERT_EQ(::stat((dir / "state.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  driver::StateStore s(dir.string());
  auto nets = s.networks();
  ASSERT_EQ(nets.size(), 1u);
  EXPECT_EQ(nets[0].options.at("wgnet.endpoint"), "198.18.0.2:1");
  EXPECT_EQ(nets[0].pools4, std::vector<std::string>{"10.0.0.0/24"});
  EXPECT_EQ(nets[0].backend, "external");
  auto eps = s.endpoints();
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].endpoint_id, "e2");
  EXPECT_EQ(eps[0].address6, "fd00::3/64");
  EXPECT_EQ(eps[0].sandbox, "/var/run/docker/netns/abc");
  s.delete_network("n1");
  EXPECT_TRUE(s.networks().empty());
  fs::remove_all(dir.parent_path());
}
