// Seed files are read with plain POSIX calls so the buffer can be wiped afterwards.
#include "keys/seed.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "util/error.h"

namespace wgnet::keys {

namespace {
constexpr size_t kMaxSeed = 4096;

std::string name(std::string_view what, const std::string& path) {
  return std::string(what) + " '" + path + "'";
}
}  // namespace

crypto::SecretBytes read_seed_file(const std::string& path, std::string_view what,
                                   const Warn& warn) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw InputError(name(what, path) + ": cannot open: " + std::strerror(errno) +
                     "; expected a readable file holding the raw seed bytes");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError(name(what, path) + ": not a regular file; expected a file holding the seed");
  }
  if (st.st_size > static_cast<off_t>(kMaxSeed)) {
    ::close(fd);
    throw InputError(name(what, path) +
                     ": larger than 4096 bytes; expected a short seed (32 "
                     "random bytes recommended)");
  }
  if ((st.st_mode & 077) != 0 && warn)
    warn("warning: " + name(what, path) + " is readable by group or others; run: chmod 600 " +
         path);
  uint8_t buf[kMaxSeed];
  size_t got = 0;
  while (got < kMaxSeed) {
    ssize_t n = ::read(fd, buf + got, kMaxSeed - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      crypto::wipe(buf, sizeof buf);
      throw InputError(name(what, path) + ": cannot read: " + std::strerror(e));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  crypto::SecretBytes seed(std::span<const uint8_t>(buf, got));
  crypto::wipe(buf, sizeof buf);
  if (seed.empty())
    throw InputError(name(what, path) + ": the file is empty; expected the seed bytes");
  return seed;
}

std::string confine_seed_path(const std::string& seed_dir, const std::string& path,
                              std::string_view what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = fs::canonical(seed_dir, ec);
  if (ec)
    throw InputError(std::string(what) + ": the seed directory '" + seed_dir +
                     "' does not exist; create it (mode 0700) and put the seed file there");
  fs::path p = fs::path(path).is_absolute() ? fs::path(path) : dir / path;
  fs::path real = fs::canonical(p, ec);
  if (ec)
    throw InputError(name(what, path) + ": no such file; expected a seed file inside " +
                     dir.string());
  auto rel = real.lexically_relative(dir);
  if (rel.empty() || *rel.begin() == ".." || rel == ".")
    throw InputError(name(what, path) + ": lies outside the seed directory " + dir.string() +
                     "; expected a file inside it (symlinks out of it are refused)");
  return real.string();
}

}  // namespace wgnet::keys
