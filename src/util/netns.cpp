// setns(CLONE_NEWNET) changes only the calling thread's namespace; a fresh thread keeps it local.
#include "util/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <thread>

#include "util/error.h"
#include "util/fd.h"

namespace wgnet::netns {

std::optional<NsId> id_of(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::nullopt;
  return NsId{st.st_dev, st.st_ino};
}

std::optional<NsId> id_of_this_thread() {
  struct stat st {};
  if (::stat("/proc/thread-self/ns/net", &st) != 0) return std::nullopt;
  return NsId{st.st_dev, st.st_ino};
}

void run_in(const std::string& path, const std::function<void()>& fn) {
  Fd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) throw SystemError("cannot open network namespace " + path + ": " + std::strerror(errno));
  std::exception_ptr error;
  std::thread t([&] {
    try {
      if (::setns(ns.get(), CLONE_NEWNET) != 0)
        throw SystemError("cannot enter network namespace " + path + ": " + std::strerror(errno));
      fn();
    } catch (...) {
      error = std::current_exception();
    }
  });
  t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace wgnet::netns
