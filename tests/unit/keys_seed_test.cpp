// Seed files: reading, permission warnings, confinement to the seed directory.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "keys/seed.h"
#include "temp_dir.h"
#include "util/error.h"

using namespace wgnet;
namespace fs = std::filesystem;

class SeedFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directory(root / "seeds");
    write(root / "seeds" / "seed", "0123456789abcdef0123456789abcdef", 0600);
    write(root / "outside", "0123456789abcdef", 0600);
  }
  static void write(const fs::path& p, const std::string& data, mode_t mode) {
    std::ofstream(p) << data;
    ::chmod(p.c_str(), mode);
  }
  wgnet::testing::TempDir tmp{"wgnet-seed-test"};
  fs::path root = tmp.path();
};

TEST_F(SeedFiles, ReadsRawBytesQuietly) {
  int warnings = 0;
  auto s =
      keys::read_seed_file((root / "seeds" / "seed").string(), "seed", [&](auto&) { warnings++; });
  EXPECT_EQ(s.size(), 32u);
  EXPECT_EQ(warnings, 0);
}

TEST_F(SeedFiles, WarnsWhenOthersCanRead) {
  ::chmod((root / "seeds" / "seed").c_str(), 0644);
  std::string warning;
  keys::read_seed_file((root / "seeds" / "seed").string(), "seed", [&](auto& w) { warning = w; });
  EXPECT_NE(warning.find("chmod 600"), std::string::npos);
}

TEST_F(SeedFiles, MissingFileIsAnInputError) {
  EXPECT_THROW(keys::read_seed_file((root / "nope").string(), "--seed-file", nullptr), InputError);
}

TEST_F(SeedFiles, ConfinesToSeedDir) {
  auto dir = (root / "seeds").string();
  EXPECT_EQ(keys::confine_seed_path(dir, "seed", "wgnet.seed-file"),
            fs::canonical(root / "seeds" / "seed").string());
  EXPECT_NO_THROW(keys::confine_seed_path(dir, (root / "seeds" / "seed").string(), "x"));
  EXPECT_THROW(keys::confine_seed_path(dir, (root / "outside").string(), "x"), InputError);
  EXPECT_THROW(keys::confine_seed_path(dir, "../outside", "x"), InputError);
  fs::create_symlink(root / "outside", root / "seeds" / "link");
  EXPECT_THROW(keys::confine_seed_path(dir, "link", "x"), InputError);
  EXPECT_THROW(keys::confine_seed_path(dir, dir, "x"), InputError);
}

TEST_F(SeedFiles, ReadsBeneathTheDirectoryOnly) {
  auto dir = (root / "seeds").string();
  auto checked = keys::confine_seed_path(dir, "seed", "wgnet.seed-file");
  EXPECT_EQ(keys::read_seed_file(dir, checked, "wgnet.seed-file", nullptr).size(), 32u);
  EXPECT_EQ(keys::read_seed_file(dir, "seed", "wgnet.seed-file", nullptr).size(), 32u);
  // The path was checked when the network was created; later the file is swapped for a
  // symlink out of the directory. The read must not follow it.
  fs::remove(root / "seeds" / "seed");
  fs::create_symlink(root / "outside", root / "seeds" / "seed");
  try {
    keys::read_seed_file(dir, checked, "wgnet.seed-file", nullptr);
    ADD_FAILURE() << "read a seed through a symlink out of the seed directory";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("leads out of"), std::string::npos) << e.what();
  }
  EXPECT_THROW(keys::read_seed_file(dir, "../outside", "x", nullptr), InputError);
  EXPECT_THROW(keys::read_seed_file(dir, (root / "outside").string(), "x", nullptr), InputError);
  // A symlink that stays inside the directory is fine.
  write(root / "seeds" / "real", "0123456789abcdef0123456789abcdef", 0600);
  fs::create_symlink("real", root / "seeds" / "alias");
  EXPECT_EQ(keys::read_seed_file(dir, "alias", "x", nullptr).size(), 32u);
}
