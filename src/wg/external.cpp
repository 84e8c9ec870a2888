// Supervision here means: notice and log when a device's process dies without being asked to,
// and reap it. A dead process takes its TUN device (and the container's tunnel) with it.
#include "wg/external.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include "netlink/rtnl.h"
#include "util/error.h"
#include "util/log.h"
#include "util/process.h"
#include "wg/uapi.h"

namespace wgnet::wg {

namespace {

std::string basename_of(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string tail_of(const std::string& path) {
  std::ifstream f(path);
  std::string line, last;
  while (std::getline(f, line))
    if (!line.empty()) last = line;
  return last;
}

}  // namespace

ExternalBackend::ExternalBackend(Options options) : options_(std::move(options)) {
  if (!options_.log_dir.empty()) ::mkdir(options_.log_dir.c_str(), 0700);
  supervisor_ = std::thread([this] { supervise(); });
}

ExternalBackend::~ExternalBackend() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  supervisor_.join();
}

bool ExternalBackend::program_available(const std::string& program, std::string* why) {
  if (program.find('/') != std::string::npos) {
    if (::access(program.c_str(), X_OK) == 0) return true;
    if (why) *why = program + " is not executable";
    return false;
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  if (why) *why = program + " not found in PATH (Debian: apt-get install wireguard-go)";
  return false;
}

std::string ExternalBackend::log_path(const std::string& ifname) const {
  return options_.log_dir.empty() ? "/dev/null" : options_.log_dir + "/" + ifname + ".log";
}

bool ExternalBackend::serves(const std::vector<std::string>& argv) const {
  if (argv.size() < 2) return false;
  std::string prog = basename_of(argv[0]);
  return prog == basename_of(options_.program) || prog == "wireguard-go";
}

std::vector<pid_t> ExternalBackend::pids_of(const std::string& ifname) {
  return process::find(
      [&](const std::vector<std::string>& argv) { return serves(argv) && argv.back() == ifname; });
}

void ExternalBackend::create(const std::string& ifname, const DeviceConfig& config, uint32_t mtu) {
  if (netlink::rtnl::ifindex(ifname))
    throw SystemError("a network device named " + ifname + " already exists");
  ::mkdir(uapi::socket_dir().c_str(), 0755);
  pid_t pid = process::spawn_detached(
      {options_.program, "-f", ifname},
      {"WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1", "LOG_LEVEL=error"}, log_path(ifname));
  {
    std::lock_guard lock(mutex_);
    started_[ifname] = pid;
  }
  try {
    // The UAPI socket appears once the TUN device exists and the program listens.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!uapi::reachable(ifname)) {
      if (!process::alive(pid)) {
        std::string last = tail_of(log_path(ifname));
        throw SystemError(options_.program + " exited while creating " + ifname +
                          (last.empty() ? "" : ": " + last));
      }
      if (std::chrono::steady_clock::now() > deadline)
        throw SystemError(options_.program + " did not open its UAPI socket for " + ifname +
                          " within 10 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    configure(ifname, config, mtu);
  } catch (...) {
    remove(ifname);
    throw;
  }
  log::debug("external: " + options_.program + " (pid " + std::to_string(pid) + ") serves " +
             ifname);
}

void ExternalBackend::configure(const std::string& ifname, const DeviceConfig& config,
                                uint32_t mtu) {
  uapi::set(ifname, config);
  netlink::rtnl::set_mtu(ifname, mtu);
}

void ExternalBackend::remove(const std::string& ifname) {
  auto t0 = std::chrono::steady_clock::now();
  std::vector<pid_t> pids;
  {
    std::lock_guard lock(mutex_);
    if (auto it = started_.find(ifname); it != started_.end()) {
      pids.push_back(it->second);
      started_.erase(it);
    }
  }
  // A device started by an earlier wgnetd is found by its command line (a /proc scan, slower).
  if (pids.empty()) pids = pids_of(ifname);
  // Deleting the link makes the program exit on its own; it may already be gone or elsewhere.
  try {
    netlink::rtnl::delete_link(ifname);
  } catch (const std::exception& e) {
    log::debug("external: deleting link " + ifname + ": " + e.what());
  }
  auto t1 = std::chrono::steady_clock::now();
  for (pid_t p : pids)
    if (!process::terminate(p))
      log::warn("external: process " + std::to_string(p) + " serving " + ifname + " did not stop");
  ::unlink(uapi::socket_path(ifname).c_str());
  if (!options_.log_dir.empty()) ::unlink(log_path(ifname).c_str());
  auto t2 = std::chrono::steady_clock::now();
  using ms = std::chrono::duration<double, std::milli>;
  log::debug("external: removed " + ifname + ": link " + std::to_string(ms(t1 - t0).count()) +
             " ms, process " + std::to_string(ms(t2 - t1).count()) + " ms");
}

void ExternalBackend::on_lost(LostHandler handler) {
  std::lock_guard lock(mutex_);
  lost_ = std::move(handler);
}

bool ExternalBackend::adopt(const std::string& ifname) {
  auto pids = pids_of(ifname);
  if (pids.empty()) return false;
  std::lock_guard lock(mutex_);
  if (started_.emplace(ifname, pids.front()).second)
    log::debug("external: watching " + options_.program + " (pid " + std::to_string(pids.front()) +
               ") of " + ifname + ", started before this wgnetd");
  return true;
}

bool ExternalBackend::exists(const std::string& ifname) { return uapi::reachable(ifname); }

DeviceStatus ExternalBackend::status(const std::string& ifname) { return uapi::get(ifname); }

std::vector<std::string> ExternalBackend::list(const std::string& prefix) {
  std::vector<std::string> out;
  DIR* d = ::opendir(uapi::socket_dir().c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".sock") == 0 && n.rfind(prefix, 0) == 0)
      out.push_back(n.substr(0, n.size() - 5));
  }
  ::closedir(d);
  // Processes whose socket vanished still count: they serve a device.
  process::find([&](const std::vector<std::string>& argv) {
    if (serves(argv) && argv.back().rfind(prefix, 0) == 0 &&
        std::find(out.begin(), out.end(), argv.back()) == out.end())
      out.push_back(argv.back());
    return false;
  });
  return out;
}

void ExternalBackend::supervise() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::seconds(1));
    std::vector<std::string> lost;
    for (auto it = started_.begin(); it != started_.end();) {
      int status = -1;  // stays -1 for a process that is not our child (adopted)
      if (process::reap_if_exited(it->second, &status)) {
        std::string why = status == -1 ? "it is gone"
                          : WIFSIGNALED(status)
                              ? "killed by signal " + std::to_string(WTERMSIG(status))
                              : "exit status " + std::to_string(WEXITSTATUS(status));
        log::error("external: " + options_.program + " serving " + it->first +
                   " exited unexpectedly (" + why + "); the device is gone");
        lost.push_back(it->first);
        it = started_.erase(it);
      } else {
        ++it;
      }
    }
    if (lost.empty() || !lost_ || stopping_) continue;
    // The handler may call back into this backend (create): run it without the lock.
    LostHandler handler = lost_;
    lock.unlock();
    for (const auto& ifname : lost) handler(ifname);
    lock.lock();
  }
}

}  // namespace wgnet::wg
