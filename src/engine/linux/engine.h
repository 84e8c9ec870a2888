// The engine's runtime: one fixed pool of worker threads around one epoll set serving every
// interface (TUN + UDP + Device) of a process, their timers, handshakes, link watching (MTU,
// deletion, namespace moves) and, optionally, their UAPI sockets. What wgnetd's `engine` backend
// and `wgnet-engine` are built on (docs/ENGINE.md "Threads and order").
//
// Threading contract:
// - Every public method is thread-safe and may be called from any thread, in any network
//   namespace: UDP sockets always open in the engine's own namespace (the one the constructor ran
//   in), whatever thread triggers it (add, apply, a UAPI set of listen_port).
// - Callbacks (on_lost, on_uapi_removed) run on an engine thread with no engine lock held. They
//   must not block for long; they may call any method except shutdown() and the destructor
//   (remove() called from them returns before the interface is destroyed).
// - Threads: `workers` workers, plus one UAPI thread when UAPI sockets are served. Never a thread
//   per interface or per peer; short-lived helper threads only to enter another namespace.
// Memory: packet buffers belong to the workers (workers × 2 × batch buffers, touched on use); an
// idle interface costs its Device, its TunLinux and its sockets, nothing per packet.
// I/O: the engine sees each interface's TUN and UDP only through the core's Tun and Bind (their
// poll_fd()/poll_fds() are what it waits on), so tests drive it with in-memory ones.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/bind.h"
#include "engine/clock.h"
#include "engine/device.h"
#include "engine/linux/uapi_server.h"
#include "engine/linux/udp_linux.h"
#include "engine/tun.h"
#include "util/fd.h"
#include "wgconf/config.h"

namespace wgnet::engine {

struct EngineOptions {
  unsigned workers = 0;  // 0: one per CPU this process may run on
  size_t batch = 128;    // packets per TUN read / UDP receive
  // For every interface (Timings: parse_timings for tests). Its rate_limits.max_entries is
  // replaced by the size for this machine's memory (RateLimiter::entries_for_memory).
  DeviceOptions device;
  // The UDP sockets of interfaces added without a BindFactory of their own (AddOptions::binds).
  UdpOptions udp;
  // The time every device's timers, handshakes and the engine's deadlines see; nullptr: the
  // system clock. Must outlive the engine. Deadlines are armed relative to its now(), so a clock
  // moved by hand (a test's) is noticed at the next deadline the engine arms, not at once.
  const Clock* clock = nullptr;
  // Watch every device's link through rtnetlink (MTU, up/down, namespace moves). false: the TUN
  // keeps the MTU it had when added, AddOptions::follow_link_state does nothing, and a deletion is
  // still noticed by the TUN itself (a runtime that is told these things instead, or a test).
  bool link_watch = true;
  // Interfaces without a BindFactory of their own get UdpBindLinux sockets opened in the engine's
  // namespace. false: the engine opens no socket and never looks at its namespace (a sandboxed
  // engine: wgnetd hands every socket over); add() then needs AddOptions::binds.
  bool own_binds = true;
  // Where UAPI sockets go ("/var/run/wireguard"); empty: no UAPI sockets, no UAPI thread.
  std::string uapi_dir;
  UapiServer::Limits uapi_limits;
  // The device of interface `name` is gone: its link was deleted, or the namespace it lived in
  // was destroyed. Called once; the interface stays registered (status works, nothing flows)
  // until remove(). wgnetd's backend treats it as "device lost"; wgnet-engine exits.
  std::function<void(const std::string& name, const std::string& why)> on_lost;
  // Somebody deleted (or replaced) interface `name`'s UAPI socket file. wireguard-go exits then
  // (that is how older wg-quick versions stop it); the interface itself keeps running.
  std::function<void(const std::string& name)> on_uapi_removed;
};

struct AddOptions {
  // Applied before the device goes up (so the configured listen port is the first bound).
  std::optional<wg::DeviceConfig> config;
  // The device is up from the start, whatever its link says. false: it stays up (wgnetd's
  // containers). true: it then follows its link (`ip link set down` closes the port and forgets
  // the sessions, `up` opens it again), as wireguard-go's does (wgnet-engine).
  bool follow_link_state = false;
  // Opens the interface's UDP binds (the first when it goes up, new ones when its listen port
  // changes); nullptr: UdpBindLinux sockets with EngineOptions::udp in the engine's namespace.
  std::shared_ptr<BindFactory> binds;
  // Serve UAPI_DIR/<name>.sock (when the engine has a uapi_dir).
  bool uapi = true;
  // An already listening UAPI socket to serve instead of creating one (WG_UAPI_FD).
  Fd uapi_listener;
};

// A snapshot of one interface for diagnostics and tests.
struct InterfaceInfo {
  std::string ifname;  // the device's current name, in whatever namespace it now lives
  int ifindex = 0;     // in that namespace (0: not watched)
  uint32_t mtu = 0;    // what the engine uses (follows `ip link set mtu`)
  uint16_t listen_port = 0;
  bool lost = false;
  TunStats tun;
  BindStats udp;
  DeviceCounters counters;
};

// The CPUs this process may run on (its affinity mask; the machine's count when that cannot be
// read): the default number of workers. The fallback reads /sys, so a sandboxed caller asks
// before entering its sandbox.
unsigned cpus_available();

class Engine {
 public:
  explicit Engine(EngineOptions options = {});
  // shutdown(), then every interface is removed (persistent TUN devices stay).
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Adds interface `name` (the engine's key for it, unique; also its UAPI socket's name) around a
  // TUN the caller opened, one with a poll_fd() (InputError if not): TunLinux::create in the
  // namespace where the device must first appear, or TunLinux::attach / attach_by_alias on a thread
  // that entered the namespace the device now lives in (util/netns), e.g. a persistent device
  // re-attached after a restart. The device goes up at once: its UDP socket opens in the engine's
  // namespace, on config's listen port or a free one. Throws (SystemError, InputError for a taken
  // name) and leaves nothing registered. Note: an open /dev/net/tun keeps the namespace it was
  // opened in alive (the kernel's TUN socket holds it). A device created in the host namespace and
  // moved into a container is deleted with the container's namespace (on_lost fires); one
  // re-attached from inside the container keeps that namespace alive while the engine holds it:
  // remove() it when the container goes.
  void add(const std::string& name, std::unique_ptr<Tun> tun, AddOptions options = {});
  // Stops the interface's I/O, destroys its device and closes its TUN (a persistent TUN device
  // stays) and its sockets. Returns once that is done (from an engine thread: possibly before).
  // False when there is no such interface.
  bool remove(const std::string& name);
  bool contains(const std::string& name) const;
  std::vector<std::string> names() const;

  // The whole configuration, as `wg syncconf` would set it (Device::apply: unchanged peers keep
  // their sessions). Throws SystemError (with wireguard-go's errno) when refused, InputError when
  // there is no such interface.
  void apply(const std::string& name, const wg::DeviceConfig& config);
  // No secrets. Throws InputError when there is no such interface.
  wg::DeviceStatus status(const std::string& name) const;
  // UAPI "set=1" body → 0 or a negative errno (-ENODEV: no such interface).
  int uapi_set(const std::string& name, std::string_view body);
  // UAPI "get=1" reply, "errno=N" line included; holds keys: wipe it after use.
  std::string uapi_get(const std::string& name) const;
  InterfaceInfo info(const std::string& name) const;
  // The MTU the interface's link now has, as its link watch would report it: for an engine without
  // one (EngineOptions::link_watch false) whose controller watches the link. Throws InputError
  // when there is no such interface.
  void set_mtu(const std::string& name, uint32_t mtu);

  unsigned worker_count() const;
  // Stops the workers (and the UAPI thread); interfaces stay registered but idle. Idempotent.
  void shutdown();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace wgnet::engine
