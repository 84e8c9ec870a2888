// Order matters (plan §3.1): everything that opens a file happens before enter_sandbox(), and the
// Engine — whose workers must be born inside the sandbox — only after it.
#include "engine/linux/supervised.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/aead.h"
#include "crypto/blake2s.h"
#include "crypto/random.h"
#include "crypto/x25519.h"
#include "engine/linux/control_channel.h"
#include "engine/linux/control_server.h"
#include "engine/linux/engine.h"
#include "engine/linux/sandbox.h"
#include "engine/linux/test_hooks.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/hardening.h"
#include "util/log.h"
#include "util/number.h"

namespace wgnet::engine {
namespace {

struct Args {
  int control_fd = -1;
  int listen_fd = -1;  // where the next wgnetd connects when this one is gone (-1: none)
  SandboxOptions sandbox;
  unsigned workers = 0;
  log::Level level = log::Level::kInfo;
};

Args parse(int argc, char** argv) {
  Args a;
  bool uid = false, gid = false;
  for (int i = 2; i < argc; i++) {
    const std::string_view arg = argv[i];
    const auto eq = arg.find('=');
    const std::string_view key = arg.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : arg.substr(eq + 1);
    if (key == "--control-fd") {
      a.control_fd = static_cast<int>(parse_number(value, key, 1 << 20));
    } else if (key == "--listen-fd") {
      a.listen_fd = static_cast<int>(parse_number(value, key, 1 << 20));
    } else if (key == "--uid") {
      a.sandbox.uid = static_cast<uid_t>(parse_number(value, key, UINT32_MAX - 1));
      uid = true;
    } else if (key == "--gid") {
      a.sandbox.gid = static_cast<gid_t>(parse_number(value, key, UINT32_MAX - 1));
      gid = true;
    } else if (key == "--root") {
      a.sandbox.root = std::string(value);
    } else if (key == "--workers") {
      a.workers = static_cast<unsigned>(parse_number(value, key, 1024));
    } else if (key == "--log-level") {
      a.level = log::parse_level(value, "--log-level");
    } else if (key == "--no-private-network") {
      a.sandbox.private_network = false;
    } else {
      throw InputError("unknown argument '" + std::string(key) + "'");
    }
  }
  if (a.control_fd < 3) throw InputError("--control-fd=N (3 or more) is required");
  if (a.listen_fd != -1 && (a.listen_fd < 3 || a.listen_fd == a.control_fd))
    throw InputError("--listen-fd=N must be 3 or more and not the control socket");
  if (!uid || !gid) throw InputError("--uid and --gid are required");
  if (a.sandbox.root.empty()) throw InputError("--root=DIR (an empty directory) is required");
  return a;
}

// The control descriptor must be what wgnetd hands over: a connected SOCK_SEQPACKET socket; the
// listening one a SOCK_SEQPACKET socket that listens.
void check_control_fds(const Args& a) {
  const auto int_option = [](int fd, int option) {
    int value = -1;
    socklen_t len = sizeof value;
    return ::getsockopt(fd, SOL_SOCKET, option, &value, &len) == 0 ? value : -1;
  };
  if (int_option(a.control_fd, SO_TYPE) != SOCK_SEQPACKET)
    throw InputError("--control-fd=" + std::to_string(a.control_fd) +
                     " is not a SOCK_SEQPACKET socket");
  if (a.listen_fd >= 0 && (int_option(a.listen_fd, SO_TYPE) != SOCK_SEQPACKET ||
                           int_option(a.listen_fd, SO_ACCEPTCONN) != 1))
    throw InputError("--listen-fd=" + std::to_string(a.listen_fd) +
                     " is not a listening SOCK_SEQPACKET socket");
}

// Nothing but stdin/stdout/stderr and the control sockets stays open: whatever else the spawner
// left (by mistake) could otherwise be read or written through the allowed calls.
void close_inherited(const Args& a) {
  int keep[2] = {a.control_fd, a.listen_fd};
  if (keep[0] > keep[1]) std::swap(keep[0], keep[1]);
  unsigned next = 3;
  for (int fd : keep) {
    if (fd < 3) continue;
    if (static_cast<unsigned>(fd) > next) ::close_range(next, static_cast<unsigned>(fd - 1), 0);
    next = static_cast<unsigned>(fd) + 1;
  }
  ::close_range(next, ~0U, 0);
}

// Whether every device the engine has is lost (deleted with its container): nothing to carry.
bool nothing_left(Engine& engine) {
  for (const auto& name : engine.names())
    if (engine.contains(name) && !engine.info(name).lost) return false;
  return true;
}

// Waits for the next wgnetd on `listener` (plan §3.3): only root may take the engine over (the
// socket file is root's, 0600; its peer credentials are checked too). An invalid Fd when `stop_fd`
// fired first or no device is left to carry (checked every second).
Fd next_controller(int listener, int stop_fd, Engine& engine) {
  for (;;) {
    pollfd fds[2] = {{listener, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    const int n = ::poll(fds, 2, 1000);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SystemError("poll: " + errno_text(errno));
    }
    if (fds[1].revents) return Fd();
    if (n == 0 && nothing_left(engine)) {
      log::info("engine: every device is gone and no wgnetd came back");
      return Fd();
    }
    if (!fds[0].revents) continue;
    Fd c(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) {
      ::poll(nullptr, 0, 100);  // a failing accept: no busy loop
      continue;
    }
    ucred peer{};
    socklen_t len = sizeof peer;
    if (::getsockopt(c.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 || peer.uid != 0) {
      log::warn("engine: refused a controller that is not root (uid " + std::to_string(peer.uid) +
                ")");
      continue;
    }
    log::info("engine: wgnetd (pid " + std::to_string(peer.pid) + ") connected");
    return c;
  }
}

// Every primitive the data path and handshakes use, once: the libraries load what they need
// (OpenSSL's configuration and providers, libsodium's state) while files can still be opened.
void warm_up_crypto() {
  crypto::sodium_ready();
  crypto::Key k;
  crypto::random_bytes(std::span<uint8_t>(k.data(), k.size()));
  crypto::clamp(k);
  const crypto::Key pub = crypto::public_key(k);
  std::array<uint8_t, 16> in{}, sealed_buf{};
  std::array<uint8_t, 32> sealed{};
  crypto::aead_seal(k, 1, {}, in, sealed.data());
  (void)crypto::aead_open(k, 1, {}, sealed, sealed_buf.data());
  std::array<uint8_t, crypto::kXNonceSize> nonce{};
  crypto::xaead_seal(k, nonce, {}, in, sealed.data());
  (void)crypto::blake2s({pub.span()});
  (void)crypto::hmac_blake2s(pub.span(), {pub.span()});
  (void)crypto::blake2s_mac(pub.span(), {pub.span()});
}

}  // namespace

int run_supervised(int argc, char** argv) {
  Args args;
  try {
    args = parse(argc, argv);
    check_control_fds(args);
  } catch (const InputError& e) {
    std::fprintf(stderr, "wgnet-engine --supervised: %s\n", e.what());
    return 64;
  }
  try {
    close_inherited(args);  // first: what this process opens itself stays
    // Run from a descriptor (execveat), its name would be the descriptor's number.
    ::prctl(PR_SET_NAME, "wgnet-engine");
    log::set_level(args.level);
    disable_core_dumps();
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGHUP, SIG_IGN);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    if (::sigprocmask(SIG_BLOCK, &stop, nullptr) != 0) throw SystemError("sigprocmask");
    Fd stop_fd(::signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!stop_fd) throw SystemError("signalfd: " + errno_text(errno));

    EngineOptions options;
    // Counted now: the fallback (glibc's get_nprocs) reads /sys, which the filter forbids.
    options.workers = args.workers ? args.workers : cpus_available();
    options.link_watch = false;  // wgnetd watches the links and tells (SetMtu)
    options.own_binds = false;   // every device brings its sockets
    if (auto t = test_hooks::timings_from_env()) options.device.timings = *t;
    test_hooks::install_forbidden_call_trigger();
    warm_up_crypto();
    log::info("engine: starting (pid " + std::to_string(::getpid()) + ")");  // the log path too

    const SandboxReport report = enter_sandbox(args.sandbox);
    if (args.sandbox.private_network && !report.private_network)
      log::warn("engine: no network namespace of its own: " + report.private_network_error);
    log::info("engine: sandboxed (uid " + std::to_string(args.sandbox.uid) + ", no capability, " +
              "seccomp filter), serving wgnetd");

    // Declared before the engine: its workers report into it until the engine is gone.
    ControlEvents events;
    options.on_lost = [&events](const std::string& name, const std::string& why) {
      events.device_lost(name, why);
    };
    Engine engine(std::move(options));
    ControlServer server(engine, events, {.batch = 128, .build = WGNET_VERSION});
    const Fd listener(args.listen_fd);
    Fd control(args.control_fd);
    // One wgnetd after another (plan §3.3): when one is gone, the devices keep carrying traffic
    // until the next connects on `listener`; without one (or without devices) the engine ends.
    for (;;) {
      ControlChannel channel{std::move(control)};
      ControlServer::End end = ControlServer::End::kClosed;
      try {
        end = server.run(channel, stop_fd.get(), listener.get());
      } catch (const std::exception& e) {
        if (!listener) throw;
        log::warn(std::string("engine: dropped wgnetd's connection: ") + e.what());
      }
      if (end == ControlServer::End::kShutdown) {
        log::info("engine: shutting down");
        break;
      }
      const size_t devices = engine.names().size();
      if (!listener || nothing_left(engine)) {
        log::info("engine: wgnetd closed the control socket; exiting");
        break;
      }
      log::info("engine: wgnetd is gone; carrying " + std::to_string(devices) +
                " device(s) until the next wgnetd connects");
      control = next_controller(listener.get(), stop_fd.get(), engine);
      if (!control) {
        log::info("engine: shutting down");
        break;
      }
    }
    engine.shutdown();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wgnet-engine --supervised: %s\n", e.what());
    return 1;
  }
}

}  // namespace wgnet::engine
