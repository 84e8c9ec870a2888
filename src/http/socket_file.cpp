// Making room for a unix socket at start-up and removing it at exit.
#include "http/socket_file.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <filesystem>

#include "util/error.h"
#include "util/fd.h"
#include "util/unix_address.h"

namespace wgnet::http {
namespace {

void make_directories(const std::filesystem::path& dir) {
  if (dir.empty()) return;
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      throw SystemError("socket directory " + dir.string() + " exists and is not a directory");
    return;
  }
  make_directories(dir.parent_path());
  if (::mkdir(dir.c_str(), 0755) != 0) {
    if (errno == EEXIST) return;  // created by someone else meanwhile
    throw SystemError("cannot create socket directory " + dir.string() + ": " + errno_text(errno));
  }
  // 0755 whatever the umask: the directory is meant to be traversable (Docker looks plugins up
  // there), and the socket inside it carries its own 0600.
  if (::chmod(dir.c_str(), 0755) != 0)
    throw SystemError("cannot chmod 0755 " + dir.string() + ": " + errno_text(errno));
}

// True when a server accepts connections at `path`. A non-blocking connect so that a live
// server with a full backlog (EAGAIN) counts as live instead of hanging start-up.
bool someone_listens(const std::string& path) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw SystemError("socket: " + errno_text(errno));
  const sockaddr_un addr = unix_address(path);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return true;
  const int err = errno;
  if (err == ECONNREFUSED || err == ENOENT) return false;
  if (err == EAGAIN || err == EINPROGRESS) return true;
  throw SystemError("cannot probe existing socket " + path + ": " + errno_text(err));
}

}  // namespace

void claim_socket_path(const std::string& path) {
  (void)unix_address(path);  // empty or too long: refused before anything is made
  make_directories(std::filesystem::path(path).parent_path());

  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw SystemError("cannot inspect socket path " + path + ": " + errno_text(errno));
  }
  if (!S_ISSOCK(st.st_mode))
    throw SystemError(path + " exists and is not a socket; refusing to replace it");
  if (someone_listens(path)) throw SystemError("another process is already serving on " + path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw SystemError("cannot remove stale socket " + path + ": " + errno_text(errno));
}

SocketFile::SocketFile(std::string path) : path_(std::move(path)) {
  struct stat st {};
  if (::lstat(path_.c_str(), &st) != 0)
    throw SystemError("socket file " + path_ + " missing after bind: " + errno_text(errno));
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  owned_ = true;
}

void SocketFile::remove() noexcept {
  if (!owned_) return;
  owned_ = false;
  struct stat st {};
  if (::lstat(path_.c_str(), &st) != 0) return;
  if (S_ISSOCK(st.st_mode) && st.st_dev == dev_ && st.st_ino == ino_) ::unlink(path_.c_str());
}

}  // namespace wgnet::http
