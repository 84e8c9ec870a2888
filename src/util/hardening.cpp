// No core dumps takes both settings: RLIMIT_CORE alone is ignored by a core_pattern pipe
// (systemd-coredump).
#include "util/hardening.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "util/error.h"

namespace wgnet {

void disable_core_dumps() {
  rlimit none{0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0)
    throw SystemError(std::string("setrlimit(RLIMIT_CORE): ") + std::strerror(errno));
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    throw SystemError(std::string("prctl(PR_SET_DUMPABLE): ") + std::strerror(errno));
}

unsigned long raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
    throw SystemError(std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0)
      throw SystemError(std::string("setrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  }
  return static_cast<unsigned long>(limit.rlim_cur);
}

}  // namespace wgnet
