// Supervision here means: notice at once (pidfds) and log when a device's process dies without
// being asked to, reap it, and tell the driver, which rebuilds the device.
#include "wg/external.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <vector>

#include "netlink/rtnl.h"
#include "util/error.h"
#include "util/log.h"
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

void poke(int eventfd) {
  uint64_t one = 1;
  (void)!::write(eventfd, &one, sizeof one);
}

}  // namespace

ExternalBackend::ExternalBackend(Options options)
    : options_(std::move(options)), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!wake_) throw SystemError(std::string("eventfd: ") + std::strerror(errno));
  if (!options_.log_dir.empty()) ::mkdir(options_.log_dir.c_str(), 0700);
  supervisor_ = std::thread([this] { supervise(); });
}

ExternalBackend::~ExternalBackend() {
  stopping_ = true;
  poke(wake_.get());
  supervisor_.join();
}

bool ExternalBackend::program_available(const std::string& program, std::string* why) {
  if (process::find_program(program)) return true;
  if (why)
    *why = program.find('/') != std::string::npos
               ? program + " is not executable"
               : program + " not found in PATH (Debian: apt-get install wireguard-go)";
  return false;
}

std::string ExternalBackend::log_path(const std::string& ifname) const {
  return options_.log_dir.empty() ? "/dev/null" : options_.log_dir + "/" + ifname + ".log";
}

bool ExternalBackend::serves(const std::vector<std::string>& argv,
                             const std::string& ifname) const {
  return argv.size() >= 2 && argv.back() == ifname &&
         basename_of(argv[0]) == basename_of(options_.program);
}

void ExternalBackend::watch(const std::string& ifname, process::Process p) {
  {
    std::lock_guard lock(mutex_);
    watched_.insert_or_assign(ifname, std::move(p));
  }
  poke(wake_.get());
}

std::optional<process::Process> ExternalBackend::unwatch(const std::string& ifname) {
  std::optional<process::Process> p;
  {
    std::lock_guard lock(mutex_);
    auto it = watched_.find(ifname);
    if (it == watched_.end()) return std::nullopt;
    p.emplace(std::move(it->second));
    watched_.erase(it);
  }
  poke(wake_.get());
  return p;
}

std::string ExternalBackend::create(const std::string& ifname, const DeviceConfig& config,
                                    uint32_t mtu) {
  if (netlink::rtnl::ifindex(ifname))
    throw SystemError("a network device named " + ifname + " already exists");
  ::mkdir(uapi::socket_dir().c_str(), 0755);
  auto p = process::Process::spawn(
      {options_.program, "-f", ifname},
      {"WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1", "LOG_LEVEL=error"}, log_path(ifname));
  auto id = p.id();
  watch(ifname, std::move(p));
  DeviceRef ref{ifname, id.str(), ""};
  try {
    // The UAPI socket appears once the TUN device exists and the program listens.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!uapi::reachable(ifname)) {
      bool gone = false;
      {
        std::lock_guard lock(mutex_);
        auto it = watched_.find(ifname);
        gone = it == watched_.end() || it->second.exited();
      }
      if (gone) {
        std::string last = tail_of(log_path(ifname));
        throw SystemError(options_.program + " exited while creating " + ifname +
                          (last.empty() ? "" : ": " + last));
      }
      if (std::chrono::steady_clock::now() > deadline)
        throw SystemError(options_.program + " did not open its UAPI socket for " + ifname +
                          " within 10 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    configure(ref, config, mtu);
  } catch (...) {
    remove(ref);
    throw;
  }
  log::debug("external: " + options_.program + " (" + id.str() + ") serves " + ifname);
  return ref.handle;
}

void ExternalBackend::configure(const DeviceRef& device, const DeviceConfig& config,
                                uint32_t mtu) {
  uapi::set(device.ifname, config);
  netlink::rtnl::set_mtu(device.ifname, mtu);
}

void ExternalBackend::remove(const DeviceRef& device) {
  const std::string& ifname = device.ifname;
  auto p = unwatch(ifname);
  // A process started by an earlier wgnetd is taken only by its recorded PID and start time.
  if (!p)
    if (auto id = process::ProcessId::parse(device.handle))
      p = process::Process::adopt(*id, [&](const auto& argv) { return serves(argv, ifname); });
  // Deleting the link makes the program exit on its own; it may already be gone, or elsewhere.
  try {
    netlink::rtnl::delete_link(ifname);
  } catch (const std::exception& e) {
    log::debug("external: deleting link " + ifname + ": " + e.what());
  }
  if (p && !p->terminate())
    log::warn("external: process " + p->id().str() + " serving " + ifname + " did not stop");
  ::unlink(uapi::socket_path(ifname).c_str());
  if (!options_.log_dir.empty()) ::unlink(log_path(ifname).c_str());
}

void ExternalBackend::on_lost(LostHandler handler) { lost_.set(std::move(handler)); }

bool ExternalBackend::adopt(const DeviceRef& device, const std::optional<DeviceConfig>&,
                            uint32_t) {
  {
    std::lock_guard lock(mutex_);
    if (watched_.count(device.ifname)) return true;
  }
  auto id = process::ProcessId::parse(device.handle);
  if (!id) {
    // State from before handles were recorded: the device may be served, but by a process we
    // cannot prove is ours, so it is not watched (and never signalled).
    return uapi::reachable(device.ifname);
  }
  auto p =
      process::Process::adopt(*id, [&](const auto& argv) { return serves(argv, device.ifname); });
  if (!p) return false;
  log::debug("external: watching " + options_.program + " (" + id->str() + ") of " +
             device.ifname + ", started before this wgnetd");
  watch(device.ifname, std::move(*p));
  return true;
}

bool ExternalBackend::exists(const DeviceRef& device) { return uapi::reachable(device.ifname); }

DeviceStatus ExternalBackend::status(const DeviceRef& device) { return uapi::get(device.ifname); }

void ExternalBackend::supervise() {
  while (!stopping_) {
    std::vector<pollfd> fds{{wake_.get(), POLLIN, 0}};
    std::vector<std::string> names{""};
    {
      std::lock_guard lock(mutex_);
      for (auto& [ifname, p] : watched_) {
        fds.push_back({p.pidfd(), POLLIN, 0});
        names.push_back(ifname);
      }
    }
    int rc = ::poll(fds.data(), fds.size(), -1);
    if (rc < 0 && errno != EINTR) {
      log::error(std::string("external: poll: ") + std::strerror(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    uint64_t drained;
    while (::read(wake_.get(), &drained, sizeof drained) > 0) {
    }
    std::vector<std::string> lost;
    {
      std::lock_guard lock(mutex_);
      for (size_t i = 1; i < fds.size(); i++) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        auto it = watched_.find(names[i]);
        // Removed meanwhile (remove() unwatched it), or replaced by a newer process.
        if (it == watched_.end() || it->second.pidfd() != fds[i].fd) continue;
        int status = -1;
        if (!it->second.exited(&status)) continue;
        std::string why = status == -1 ? "it is gone"
                          : WIFSIGNALED(status)
                              ? "killed by signal " + std::to_string(WTERMSIG(status))
                              : "exit status " + std::to_string(WEXITSTATUS(status));
        log::error("external: " + options_.program + " serving " + names[i] +
                   " exited unexpectedly (" + why + "); the device is gone");
        lost.push_back(names[i]);
        watched_.erase(it);
      }
    }
    if (stopping_) continue;
    // The handler may call back into this backend (create): mutex_ is not held here.
    for (const auto& ifname : lost) lost_.report(ifname);
  }
}

}  // namespace wgnet::wg
