// Seed files are read with plain POSIX calls so the buffer can be wiped afterwards.
#include "keys/seed.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "util/error.h"
#include "util/fd.h"

namespace wgnet::keys {

namespace {
constexpr size_t kMaxSeed = 4096;

std::string name(std::string_view what, const std::string& path) {
  return std::string(what) + " '" + path + "'";
}
}  // namespace

namespace {

// Reads an opened file (at most `max_bytes`) into a wiped buffer; refuses anything but a regular
// file.
crypto::SecretBytes read_opened(Fd fd, const std::string& path, std::string_view what,
                                size_t max_bytes, const Warn& warn) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    throw InputError(name(what, path) + ": not a regular file");
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    throw InputError(name(what, path) + ": larger than " + std::to_string(max_bytes) + " bytes");
  if ((st.st_mode & 077) != 0 && warn)
    warn("warning: " + name(what, path) + " is readable by group or others; run: chmod 600 " +
         path);
  // One byte more than allowed tells a file that grew since fstat.
  std::vector<uint8_t> buf(max_bytes + 1);
  crypto::ScopedWipe wipe_buf(buf);
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::read(fd.get(), buf.data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw InputError(name(what, path) + ": cannot read: " + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > max_bytes)
    throw InputError(name(what, path) + ": larger than " + std::to_string(max_bytes) + " bytes");
  return crypto::SecretBytes(std::span<const uint8_t>(buf.data(), got));
}

constexpr int kOpenFlags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;

crypto::SecretBytes non_empty_seed(crypto::SecretBytes seed, std::string_view what,
                                   const std::string& path) {
  if (seed.empty())
    throw InputError(name(what, path) + ": the file is empty; expected the seed bytes");
  return seed;
}

}  // namespace

crypto::SecretBytes read_secret_file(const std::string& path, std::string_view what,
                                     size_t max_bytes, const Warn& warn) {
  // Non-blocking: a FIFO must not hang the daemon.
  Fd fd(::open(path.c_str(), kOpenFlags));
  if (!fd)
    throw InputError(name(what, path) + ": cannot open: " + std::strerror(errno) +
                     "; expected a readable file");
  return read_opened(std::move(fd), path, what, max_bytes, warn);
}

crypto::SecretBytes read_secret_file_beneath(const std::string& dir, const std::string& path,
                                             std::string_view what, size_t max_bytes,
                                             const Warn& warn) {
  namespace fs = std::filesystem;
  Fd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirfd)
    throw InputError(name(what, path) + ": cannot open the directory " + dir + ": " +
                     std::strerror(errno));
  std::error_code ec;
  fs::path rel = fs::path(path);
  if (rel.is_absolute()) rel = rel.lexically_relative(fs::canonical(dir, ec));
  if (ec || rel.empty())
    throw InputError(name(what, path) + ": lies outside " + dir + "; expected a file inside it");
  open_how how{};
  how.flags = static_cast<uint64_t>(kOpenFlags);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  long rc = ::syscall(SYS_openat2, dirfd.get(), rel.c_str(), &how, sizeof how);
  if (rc < 0) {
    int e = errno;
    if (e == EXDEV)
      throw InputError(name(what, path) + ": leads out of " + dir +
                       " (a symlink or '..'); expected a file inside it");
    throw InputError(name(what, path) + ": cannot open: " + std::strerror(e) +
                     "; expected a readable file");
  }
  return read_opened(Fd(static_cast<int>(rc)), path, what, max_bytes, warn);
}

crypto::SecretBytes read_seed_file(const std::string& path, std::string_view what,
                                   const Warn& warn) {
  return non_empty_seed(read_secret_file(path, what, kMaxSeed, warn), what, path);
}

crypto::SecretBytes read_seed_file(const std::string& dir, const std::string& path,
                                   std::string_view what, const Warn& warn) {
  return non_empty_seed(read_secret_file_beneath(dir, path, what, kMaxSeed, warn), what, path);
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
