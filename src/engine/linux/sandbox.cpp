// The steps' order matters: the bounding set can only be dropped while CAP_SETPCAP is held (before
// the uid change), the uid change clears the permitted and effective sets but keeps the
// inheritable one (cleared by capset after), and it resets the dumpable flag (set again after).
// Each step is checked by reading the state back, not assumed from its return value.
#include "engine/linux/sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "engine/linux/seccomp_policy.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/hardening.h"

namespace wgnet::engine {
namespace {

[[noreturn]] void fail(const std::string& step) {
  throw SystemError("sandbox: " + step + ": " + errno_text(errno));
}

int thread_count() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  return -1;
}

// The root must be an empty directory only root can change: the process could otherwise be
// handed files (or a way out) through it. Checked and entered through one descriptor, so the path
// cannot be swapped between the check and chroot; the last component must not be a symlink.
Fd open_root(const std::string& root) {
  if (root.empty() || root[0] != '/')
    throw InputError("sandbox: the root directory must be an absolute path, got '" + root + "'");
  Fd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) throw InputError("sandbox: root directory " + root + ": " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    throw InputError("sandbox: root directory " + root +
                     " must be a directory owned by root and writable by root only");
  DIR* dir = ::fdopendir(::dup(fd.get()));
  if (!dir) throw InputError("sandbox: root directory " + root + ": " + errno_text(errno));
  bool empty = true;
  while (dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") empty = false;
  }
  ::closedir(dir);
  if (!empty) throw InputError("sandbox: root directory " + root + " must be empty");
  return fd;
}

void drop_bounding_set() {
  for (unsigned long cap = 0;; cap++) {
    const int held = ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (held < 0) {
      if (errno == EINVAL) return;  // past the last capability this kernel knows
      fail("reading the capability bounding set");
    }
    if (held && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
      fail("dropping capability " + std::to_string(cap) + " from the bounding set");
  }
}

void clear_capability_sets() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capset, &header, data) != 0) fail("capset");
  __user_cap_data_struct now[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, now) != 0) fail("capget");
  for (const auto& d : now)
    if (d.effective || d.permitted || d.inheritable) {
      errno = EPERM;
      fail("capabilities still held after capset");
    }
}

void verify_no_capability_left() {
  for (unsigned long cap = 0;; cap++) {
    const int held = ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (held < 0) break;
    const int ambient = ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
    if (held > 0 || ambient > 0) {
      errno = EPERM;
      fail("capability " + std::to_string(cap) + " still in the bounding or ambient set");
    }
  }
}

void change_identity(uid_t uid, gid_t gid) {
  if (::setgroups(0, nullptr) != 0) fail("setgroups");
  if (::setresgid(gid, gid, gid) != 0) fail("setresgid(" + std::to_string(gid) + ")");
  if (::setresuid(uid, uid, uid) != 0) fail("setresuid(" + std::to_string(uid) + ")");
  uid_t r, e, s;
  gid_t rg, eg, sg;
  gid_t groups[1];
  if (::getresuid(&r, &e, &s) != 0 || r != uid || e != uid || s != uid ||
      ::getresgid(&rg, &eg, &sg) != 0 || rg != gid || eg != gid || sg != gid ||
      ::getgroups(1, groups) != 0) {
    errno = EPERM;
    fail("the identity did not change as asked");
  }
  if (::setuid(0) == 0 || ::setgid(0) == 0) {
    errno = EPERM;
    fail("root could be regained after the identity change");
  }
}

}  // namespace

SandboxReport enter_sandbox(const SandboxOptions& options) {
  if (options.uid == 0 || options.gid == 0)
    throw InputError("sandbox: the engine's uid and gid must not be 0 (root)");
  const Fd root = open_root(options.root);
  if (const int threads = thread_count(); threads != 1)
    throw InputError("sandbox: must be entered by a single-threaded process, this one has " +
                     std::to_string(threads) + " threads");

  disable_core_dumps();
  SandboxReport report;
  if (options.private_network) {
    if (::unshare(CLONE_NEWNET) == 0)
      report.private_network = true;
    else
      report.private_network_error = "unshare(CLONE_NEWNET): " + errno_text(errno);
  }
  if (::fchdir(root.get()) != 0) fail("fchdir(" + options.root + ")");
  if (::chroot(".") != 0) fail("chroot(" + options.root + ")");

  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
    fail("clearing ambient capabilities");
  drop_bounding_set();
  change_identity(options.uid, options.gid);
  clear_capability_sets();
  verify_no_capability_left();

  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
    fail("PR_SET_NO_NEW_PRIVS");
  // Reset by setresuid.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
    fail("PR_SET_DUMPABLE");
  load_engine_seccomp_filter();
  return report;
}

}  // namespace wgnet::engine
