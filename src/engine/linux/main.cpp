// `wgnet-engine`: wgnet's userspace WireGuard as a drop-in for wireguard-go's command line.
// `wgnet-engine [-f] IFNAME` creates IFNAME in the namespace it runs in, serves
// /var/run/wireguard/IFNAME.sock, returns once both are ready (or stays with -f), and exits
// removing its socket when the link is deleted, its socket file is removed, or on SIGTERM/SIGINT.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "engine/linux/engine.h"
#include "engine/linux/supervised.h"
#include "engine/linux/test_hooks.h"
#include "engine/linux/tun_linux.h"
#include "engine/linux/uapi_server.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/hardening.h"
#include "util/log.h"
#include "util/number.h"

namespace {

using namespace wgnet;

constexpr const char* kUapiDir = "/var/run/wireguard";
constexpr uint32_t kDefaultMtu = 1420;  // wireguard-go's DefaultMTU

void usage(std::ostream& out, const char* argv0) {
  out << "Usage: " << argv0 << " [-f/--foreground] INTERFACE-NAME\n"
      << "       " << argv0 << " --help | --version\n"
      << "       " << argv0
      << " --supervised --control-fd=N --uid=U --gid=G --root=DIR [--workers=N]\n"
         "                 [--log-level=debug|info|warn|error] [--no-private-network]\n"
         "           the engine process wgnetd starts: sandboxed, it serves only the devices\n"
         "           wgnetd hands over on the control socket N (not for direct use)\n\n"
      << "wgnet's userspace WireGuard with wireguard-go's command line: creates the TUN\n"
         "interface INTERFACE-NAME in the current network namespace, serves\n"
      << kUapiDir
      << "/INTERFACE-NAME.sock for wg(8), and returns once both are ready\n"
         "(with -f it stays in the foreground). It exits, removing the socket, when the\n"
         "link is deleted, when the socket file is removed, or on SIGTERM/SIGINT.\n\n"
         "Environment:\n"
         "  WG_PROCESS_FOREGROUND=1  same as -f\n"
         "  WG_UAPI_FD=N             serve this listening UAPI socket instead of creating one\n"
         "  LOG_LEVEL=verbose|debug|error|silent   what is logged to stderr (default: error)\n"
         "  WGNET_ENGINE_WORKERS=N   worker threads (default: one per CPU)\n"
         "  WGNET_ENGINE_TEST_TIMINGS=name=value,...\n"
         "                           test builds only (-DWGNET_TEST_HOOKS=ON; --version says\n"
         "                           so), ignored otherwise: shortened protocol timers,\n"
         "                           e.g. rekey_after_time=10s,reject_after_time=15s,\n"
         "                           rekey_timeout=500ms (names of engine/timers.h Timings)\n";
}

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}

// What to do with LOG_LEVEL, as wireguard-go reads it.
struct Logging {
  log::Level level = log::Level::kError;
  bool silent = false;
  bool explicit_level = false;  // LOG_LEVEL was set: a daemon keeps stdout/stderr
};

Logging logging_from_env() {
  Logging l;
  if (auto v = env("LOG_LEVEL")) {
    l.explicit_level = true;
    if (*v == "verbose" || *v == "debug")
      l.level = log::Level::kDebug;
    else if (*v == "silent")
      l.silent = true;
  }
  return l;
}

void redirect(int fd, const char* path, int flags) {
  Fd f(::open(path, flags | O_CLOEXEC));
  if (f) ::dup2(f.get(), fd);
}

// The daemon tells its parent how set-up ended through a pipe: "OK", or an error message.
class Readiness {
 public:
  void open() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw SystemError("pipe: " + std::string(strerror(errno)));
    read_.reset(p[0]);
    write_.reset(p[1]);
  }
  bool active() const { return static_cast<bool>(write_); }
  void child_side() { read_.reset(); }
  void report(std::string_view message) {
    if (!write_) return;
    [[maybe_unused]] auto r = ::write(write_.get(), message.data(), message.size());
    write_.reset();
  }
  // Parent: waits for the daemon's verdict; the exit status to return.
  int wait(const std::string& ifname) {
    write_.reset();
    std::string message;
    char buf[512];
    ssize_t r;
    while ((r = ::read(read_.get(), buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR))
      if (r > 0) message.append(buf, static_cast<size_t>(r));
    if (message == "OK") return 0;
    std::cerr << "wgnet-engine: " << ifname << ": "
              << (message.empty() ? "the daemon exited during set-up" : message) << "\n";
    return 1;
  }

 private:
  Fd read_, write_;
};

// What the interface did, for the log at exit (LOG_LEVEL=debug).
std::string describe(const engine::InterfaceInfo& i) {
  const auto& c = i.counters;
  const auto& u = i.udp;
  return "rx " + std::to_string(u.rx_datagrams) + " datagrams (" + std::to_string(u.rx_dropped) +
         " dropped), tx " + std::to_string(u.tx_datagrams) + " (" + std::to_string(u.tx_dropped) +
         " dropped); TUN read " + std::to_string(i.tun.packets_read) + ", written " +
         std::to_string(i.tun.packets_written) + "; handshakes " +
         std::to_string(c.handshakes_completed) + ", queue full " +
         std::to_string(c.handshake_queue_full) + ", cookie replies " +
         std::to_string(c.cookie_replies_sent) + ", rate limited " +
         std::to_string(c.rate_limited) + ", failed " + std::to_string(c.handshake_failed) +
         ", bad mac1 " + std::to_string(c.bad_mac1) + "; decrypt failed " +
         std::to_string(c.decrypt_failed) + ", replayed " + std::to_string(c.replayed) +
         ", not allowed " + std::to_string(c.source_not_allowed);
}

int run(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "--supervised")
    return engine::run_supervised(argc, argv);
  if (argc == 2 && std::string_view(argv[1]) == "--version") {
    std::cout << "wgnet-engine v" << WGNET_VERSION
              << (engine::test_hooks::enabled() ? " (test build: test hooks compiled in)" : "")
              << "\n\nUserspace WireGuard daemon (wgnet's engine), wireguard-go's command line.\n";
    return 0;
  }
  if (argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
    usage(std::cout, argv[0]);
    return 0;
  }
  bool foreground = false;
  std::string ifname;
  if (argc == 3 &&
      (std::string_view(argv[1]) == "-f" || std::string_view(argv[1]) == "--foreground")) {
    foreground = true;
    ifname = argv[2];
  } else if (argc == 2 && argv[1][0] != '-') {
    ifname = argv[1];
  } else {
    usage(std::cerr, argv[0]);
    return 1;
  }
  if (env("WG_PROCESS_FOREGROUND") == "1") foreground = true;

  const Logging logging = logging_from_env();
  log::set_level(logging.level);
  if (logging.silent) redirect(STDERR_FILENO, "/dev/null", O_WRONLY);

  engine::EngineOptions options;
  options.uapi_dir = kUapiDir;
  if (auto w = env("WGNET_ENGINE_WORKERS"))
    options.workers = static_cast<unsigned>(parse_number(*w, "WGNET_ENGINE_WORKERS", 1024));
  if (auto t = engine::test_hooks::timings_from_env()) options.device.timings = *t;
  if (env("WG_TUN_FD"))
    throw InputError("WG_TUN_FD is not supported: wgnet-engine creates its TUN device itself");

  disable_core_dumps();  // private keys live in this process

  // The device and the socket first, in this process: their errors reach the caller directly.
  engine::TunOptions tun_options;
  tun_options.name = ifname;
  tun_options.mtu = kDefaultMtu;
  auto tun = engine::TunLinux::create(tun_options);
  ifname = tun->name();
  Fd uapi_fd;
  std::string created_socket;  // removed again if set-up fails after this
  if (auto fd = env("WG_UAPI_FD")) {
    uapi_fd.reset(static_cast<int>(parse_number(*fd, "WG_UAPI_FD", 1024)));
    ::fcntl(uapi_fd.get(), F_SETFD, FD_CLOEXEC);
  } else {
    uapi_fd = engine::UapiServer::listen(kUapiDir, ifname);
    created_socket = engine::UapiServer::socket_path(kUapiDir, ifname);
  }

  Readiness ready;
  if (!foreground) {
    ready.open();
    const pid_t pid = ::fork();
    if (pid < 0) throw SystemError("fork: " + std::string(strerror(errno)));
    if (pid > 0) {
      // The daemon owns the device and socket now; this copy of them just closes.
      return ready.wait(ifname);
    }
    ready.child_side();
    ::setsid();
    redirect(STDIN_FILENO, "/dev/null", O_RDONLY);
    if (!logging.explicit_level || logging.silent) {
      redirect(STDOUT_FILENO, "/dev/null", O_WRONLY);
      redirect(STDERR_FILENO, "/dev/null", O_WRONLY);
    }
  }

  try {
    // Signals (and the engine's reasons to stop) arrive on descriptors the main thread polls;
    // blocked before any thread starts, so no worker ever receives them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    Fd sigfd(::signalfd(-1, &signals, SFD_CLOEXEC));
    Fd stop(::eventfd(0, EFD_CLOEXEC));
    if (!sigfd || !stop) throw SystemError("signalfd/eventfd: " + std::string(strerror(errno)));
    auto request_stop = [fd = stop.get()] {
      uint64_t one = 1;
      [[maybe_unused]] auto r = ::write(fd, &one, sizeof one);
    };
    options.on_lost = [&](const std::string& name, const std::string& why) {
      log::info(name + ": " + why + "; exiting");
      request_stop();
    };
    options.on_uapi_removed = [&](const std::string& name) {
      log::info(name + ": UAPI socket removed; exiting");
      request_stop();
    };

    engine::Engine eng(options);
    engine::AddOptions add;
    add.uapi_listener = std::move(uapi_fd);
    add.follow_link_state = true;  // as wireguard-go: up while the link is up
    eng.add(ifname, std::move(tun), std::move(add));
    log::debug(ifname + ": device started, UAPI listener started");
    ready.report("OK");

    pollfd fds[2] = {{sigfd.get(), POLLIN, 0}, {stop.get(), POLLIN, 0}};
    while (::poll(fds, 2, -1) < 0 && errno == EINTR) {
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si{};
      [[maybe_unused]] auto r = ::read(sigfd.get(), &si, sizeof si);
      log::debug(ifname + ": signal " + std::to_string(si.ssi_signo) + ", shutting down");
    }
    if (log::enabled(log::Level::kDebug)) log::debug(ifname + ": " + describe(eng.info(ifname)));
    eng.shutdown();
    eng.remove(ifname);  // unlinks the socket; closing the TUN deletes the device
    log::debug(ifname + ": shut down");
    return 0;
  } catch (const std::exception& e) {
    if (!created_socket.empty()) ::unlink(created_socket.c_str());
    ready.report(e.what());
    throw;
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "wgnet-engine: " << e.what() << "\n";
    return 1;
  }
}
