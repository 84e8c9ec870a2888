// The state store: round trips, file mode, survival across reopen.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>

#include "driver/state.h"
#include "temp_dir.h"

using namespace wgnet;
namespace fs = std::filesystem;

TEST(State, RoundTripAndReopen) {
  wgnet::testing::TempDir tmp("wgnet-state-test");
  fs::path dir = tmp.path() / "state";
  {
    driver::StateStore s(dir.string());
    s.put_network({"n1",
                   {{"wgnet.seed", "c2VjcmV0"}, {"wgnet.endpoint", "198.18.0.2:1"}},
                   {"10.0.0.0/24"},
                   {},
                   "external"});
    s.put_endpoint({"n1", "e1", "10.0.0.2/24", "", "wgnet-e1", "external", "", "", ""});
    s.put_endpoint({"n1", "e2", "10.0.0.3/24", "fd00::3/64", "wgnet-e2", "external", "", "", ""});
    s.set_sandbox("e2", "/var/run/docker/netns/abc");
    s.set_handle("e2", "pid=42 start=7");
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
  EXPECT_EQ(eps[0].handle, "pid=42 start=7");
  s.delete_network("n1");
  EXPECT_TRUE(s.networks().empty());
}

namespace {
void exec(const fs::path& db, const char* sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
  sqlite3_close(h);
}
}  // namespace

TEST(State, OldDatabaseGainsTheHandleColumn) {
  wgnet::testing::TempDir tmp("wgnet-state-test");
  const fs::path& dir = tmp.path();
  // The schema of wgnet 0.1 (no handle).
  exec(dir / "state.db",
       "CREATE TABLE endpoints (endpoint_id TEXT PRIMARY KEY, network_id TEXT NOT NULL, "
       "address4 TEXT NOT NULL, address6 TEXT NOT NULL, ifname TEXT NOT NULL UNIQUE, "
       "backend TEXT NOT NULL, sandbox TEXT NOT NULL DEFAULT ''); "
       "INSERT INTO endpoints VALUES ('e1','n1','10.0.0.2/24','','wgnet-e1','external','');");
  driver::StateStore s(dir.string());
  auto eps = s.endpoints();
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].handle, "");
  s.set_handle("e1", "pid=1 start=2");
  EXPECT_EQ(s.endpoints()[0].handle, "pid=1 start=2");
}

// The schema before published ports: networks without `internal`, endpoints without `ports`. Rows
// keep their values; the new columns read as "not internal" and "nothing published".
TEST(State, DatabaseBeforePublishedPortsGainsItsColumns) {
  wgnet::testing::TempDir tmp("wgnet-state-test");
  const fs::path& dir = tmp.path();
  exec(dir / "state.db",
       "CREATE TABLE networks (id TEXT PRIMARY KEY, options TEXT NOT NULL, pools4 TEXT NOT NULL, "
       "pools6 TEXT NOT NULL, backend TEXT NOT NULL); "
       "CREATE TABLE endpoints (endpoint_id TEXT PRIMARY KEY, network_id TEXT NOT NULL, "
       "address4 TEXT NOT NULL, address6 TEXT NOT NULL, ifname TEXT NOT NULL UNIQUE, "
       "backend TEXT NOT NULL, sandbox TEXT NOT NULL DEFAULT '', handle TEXT NOT NULL DEFAULT ''); "
       "INSERT INTO networks VALUES ('n1', '{}', '[\"10.0.0.0/24\"]', '[]', 'engine'); "
       "INSERT INTO endpoints VALUES ('e1','n1','10.0.0.2/24','','wgnet-e1','engine','/sb','h');");
  {
    driver::StateStore s(dir.string());
    auto nets = s.networks();
    ASSERT_EQ(nets.size(), 1u);
    EXPECT_FALSE(nets[0].internal);
    EXPECT_EQ(nets[0].pools4, std::vector<std::string>{"10.0.0.0/24"});
    auto eps = s.endpoints();
    ASSERT_EQ(eps.size(), 1u);
    EXPECT_EQ(eps[0].sandbox, "/sb");
    EXPECT_EQ(eps[0].handle, "h");
    EXPECT_EQ(eps[0].ports, "");
    nets[0].internal = true;
    s.put_network(nets[0]);
    s.set_ports("e1", "tcp 127.0.0.1 18092 18092 8080");
  }
  driver::StateStore again(dir.string());  // migrated once: opens as it is
  EXPECT_TRUE(again.networks()[0].internal);
  EXPECT_EQ(again.endpoints()[0].ports, "tcp 127.0.0.1 18092 18092 8080");
}

TEST(State, BadRowsAreSkippedAndNamedWithoutTheirContent) {
  wgnet::testing::TempDir tmp("wgnet-state-test");
  const fs::path& dir = tmp.path();
  {
    driver::StateStore s(dir.string());
    s.put_network({"good", {{"wgnet.seed", "c2VjcmV0"}}, {"10.0.0.0/24"}, {}, "external"});
  }
  exec(dir / "state.db",
       "INSERT INTO networks (id, options, pools4, pools6, backend) VALUES ('bad', "
       "'{\"wgnet.seed\": \"U0VDUkVU', '[]', '[]', 'x');"
       "INSERT INTO endpoints (endpoint_id, network_id, address4, address6, ifname, backend, "
       "sandbox, handle) VALUES ('', 'n1', '10.0.0.2/24', '', 'wgnet-x', 'external', '', '');");
  driver::StateStore s(dir.string());
  std::vector<std::string> skipped;
  auto nets = s.networks(&skipped);
  ASSERT_EQ(nets.size(), 1u);
  EXPECT_EQ(nets[0].id, "good");
  auto eps = s.endpoints(&skipped);
  EXPECT_TRUE(eps.empty());
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_NE(skipped[0].find("'bad'"), std::string::npos) << skipped[0];
  for (const auto& why : skipped) EXPECT_EQ(why.find("U0VDUkVU"), std::string::npos) << why;
}

TEST(State, TextIsReadByItsStoredLength) {
  wgnet::testing::TempDir tmp("wgnet-state-test");
  const fs::path& dir = tmp.path();
  {
    driver::StateStore s(dir.string());
    s.put_endpoint(
        {"n1", "e1", std::string("10.0.0.5\0junk/24", 16), "", "wgnet-e1", "external", "", "", ""});
  }
  driver::StateStore s(dir.string());
  auto eps = s.endpoints();
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].address4.size(), 16u) << "the text was cut at its NUL";
}
