// Order matters (plan §3.1): everything that opens a file happens before enter_sandbox(), and the
// Engine — whose workers must be born inside the sandbox — only after it.
#include "engine/linux/supervised.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

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
  if (!uid || !gid) throw InputError("--uid and --gid are required");
  if (a.sandbox.root.empty()) throw InputError("--root=DIR (an empty directory) is required");
  return a;
}

// The control descriptor must be what wgnetd hands over: a connected SOCK_SEQPACKET socket.
void check_control_fd(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_SEQPACKET)
    throw InputError("--control-fd=" + std::to_string(fd) + " is not a SOCK_SEQPACKET socket");
}

// Nothing but stdin/stdout/stderr and the control socket stays open: whatever else the spawner
// left (by mistake) could otherwise be read or written through the allowed calls.
void close_inherited(int control_fd) {
  if (control_fd > 3) ::close_range(3, static_cast<unsigned>(control_fd - 1), 0);
  ::close_range(static_cast<unsigned>(control_fd + 1), ~0U, 0);
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
    check_control_fd(args.control_fd);
  } catch (const InputError& e) {
    std::fprintf(stderr, "wgnet-engine --supervised: %s\n", e.what());
    return 64;
  }
  try {
    close_inherited(args.control_fd);  // first: what this process opens itself stays
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

    ControlChannel channel{Fd(args.control_fd)};
    // Declared before the engine: its workers report into it until the engine is gone.
    ControlEvents events;
    options.on_lost = [&events](const std::string& name, const std::string& why) {
      events.device_lost(name, why);
    };
    Engine engine(std::move(options));
    ControlServer server(channel, engine, events, {.batch = 128, .build = WGNET_VERSION});
    const auto end = server.run(stop_fd.get());
    log::info(end == ControlServer::End::kClosed ? "engine: wgnetd closed the control socket"
                                                 : "engine: shutting down");
    engine.shutdown();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wgnet-engine --supervised: %s\n", e.what());
    return 1;
  }
}

}  // namespace wgnet::engine
