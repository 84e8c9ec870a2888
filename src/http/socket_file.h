// The file a unix socket server lives at: making room for it at start-up and removing it at exit.
#pragma once
#include <sys/types.h>

#include <string>

namespace wgnet::http {

// Claims `path` for a new listening socket. Creates missing parent directories (0755), removes a
// stale socket left by a previous run, and refuses (SystemError) a path that holds anything else
// or a socket that someone still answers on.
void claim_socket_path(const std::string& path);

// Remembers which file a bound socket created, so removing it later cannot delete a socket that
// another process has since put at the same path (a newer daemon that replaced ours as stale).
class SocketFile {
 public:
  // Records the socket file now at `path`; throws SystemError if there is none.
  explicit SocketFile(std::string path);
  SocketFile(const SocketFile&) = delete;
  SocketFile& operator=(const SocketFile&) = delete;
  ~SocketFile() { remove(); }

  // Unlinks the file if it is still the one recorded; idempotent, never throws.
  void remove() noexcept;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  bool owned_ = false;
};

}  // namespace wgnet::http
