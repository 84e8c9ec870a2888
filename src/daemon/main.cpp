// `wgnetd`: the Docker network plugin. Wires the HTTP server to the driver, restores state, serves
// the admin socket and metrics, and shuts down cleanly on SIGTERM/SIGINT (devices stay:
// containers keep their tunnels).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "daemon/admin.h"
#include "daemon/keeper.h"
#include "daemon/metrics.h"
#include "daemon/side_servers.h"
#include "driver/api.h"
#include "driver/driver.h"
#include "driver/host_linux.h"
#include "driver/metrics.h"
#include "driver/state.h"
#include "engine/linux/test_hooks.h"
#include "http/server.h"
#include "portmap/relay.h"
#include "util/error.h"
#include "util/hardening.h"
#include "util/log.h"
#include "util/process.h"
#include "util/user.h"
#include "wg/backends.h"

namespace {

struct Settings {
  std::string socket = "/run/docker/plugins/wgnet.sock";
  std::string state_dir = "/var/lib/wgnet";
  std::string seed_dir = "/etc/wgnet";
  std::string backend = "auto";
  std::string log_level = "info";
  bool log_info_to_stdout = false;
  std::string wireguard_go = "wireguard-go";
  double sweep_interval = 10;                               // seconds
  unsigned handler_timeout = 60;                            // seconds
  std::string admin_socket = wgnet::admin::kDefaultSocket;  // empty: none
  std::string metrics;                                      // ADDR:PORT, empty: none
  std::string scope = "local";
  std::string engine_user;  // empty: wgnet-engine if the system has it, else nobody
  bool engine_process = true;
  std::string engine_program;  // empty: wgnet-engine beside wgnetd, else in PATH
};

// Calls that only read memory: they get a lane of their own, so activation and `docker inspect`
// never wait behind a slow Join.
bool is_cheap_call(std::string_view target) {
  return target == "/Plugin.Activate" || target == "/NetworkDriver.GetCapabilities" ||
         target == "/NetworkDriver.EndpointOperInfo";
}

// Runs a server's loop on a thread of its own; stops and joins it when destroyed, so nothing the
// server's handler uses is destroyed while it runs.
template <typename Server>
class ServerThread {
 public:
  explicit ServerThread(Server& server) : server_(server), thread_([this] { server_.run(); }) {}
  ~ServerThread() {
    server_.stop();
    thread_.join();
  }
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;

 private:
  Server& server_;
  std::thread thread_;
};

// The user that owns the engine's TUN devices (--engine-user): an unprivileged one no container
// process runs as, so none can attach to its wg0 while no engine holds it.
wgnet::UserIds engine_user(const std::string& spec) {
  if (!spec.empty()) return wgnet::parse_user(spec, "--engine-user");
  try {
    return wgnet::parse_user("wgnet-engine", "--engine-user");
  } catch (const wgnet::InputError&) {
    wgnet::log::info(
        "no user wgnet-engine on this system: engine devices belong to nobody (65534)");
    return {65534, 65534};
  }
}

// The engine program (--engine-program): as given, else wgnet-engine beside this wgnetd (both in
// /usr/bin, in the plugin too), else the first in PATH; empty when there is none (the engine
// backend is then unavailable, and says why).
std::string engine_program(const std::string& spec) {
  namespace fs = std::filesystem;
  if (!spec.empty()) return spec;
  std::error_code ec;
  const fs::path beside = fs::read_symlink("/proc/self/exe", ec).parent_path() / "wgnet-engine";
  if (!ec && fs::exists(beside, ec)) return beside.string();
  return wgnet::process::find_program("wgnet-engine").value_or("");
}

// The engine process's settings: its ids, an empty directory to chroot into (made here), the
// environment it may see (test timings in a test build, a sanitizer's options in a sanitizer
// build), and wgnet_engine_restarts_total in `registry`, counted as engines are replaced.
wgnet::wg::EngineProcessOptions engine_process(const Settings& s, wgnet::UserIds user,
                                               wgnet::metrics::Registry& registry) {
  wgnet::wg::EngineProcessOptions o;
  auto& restarts = registry.counter(
      "wgnet_engine_restarts_total",
      "engine processes replaced, by why: seccomp, signal, exit, ended (how unknown), broken "
      "(its control connection), unusable (left by an earlier wgnetd, not taken over)",
      {"reason"});
  for (std::string_view reason : wgnet::wg::kRestartReasons) restarts.with({std::string(reason)});
  o.on_replaced = [&restarts](std::string_view reason) {
    restarts.with({std::string(reason)}).inc();
  };
  o.program = engine_program(s.engine_program);
  o.uid = user.uid;
  o.gid = user.gid;
  o.log_level = s.log_level;
  const std::filesystem::path state = std::filesystem::absolute(s.state_dir);
  std::error_code ec;
  std::filesystem::create_directories(state, ec);  // 0700: umask 077 (the state store's too)
  o.root = (state / "engine-root").string();
  // The engine outlives this wgnetd (upgrade, crash): the next one takes it over there.
  o.listen_path = (state / "engine.sock").string();
  o.pid_file = (state / "engine.pid").string();
  if (::mkdir(o.root.c_str(), 0555) != 0 && errno != EEXIST)
    throw wgnet::SystemError("cannot make " + o.root + ": " + wgnet::errno_text(errno));
  for (const char* name :
       {"WGNET_ENGINE_TEST_TIMINGS", "ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"})
    if (const char* v = std::getenv(name)) o.env.push_back(std::string(name) + "=" + v);
  return o;
}

// "--metrics ADDR:PORT": a numeric address ("[::]:9586" for IPv6) and a port other than 0.
wgnet::wg::Endpoint parse_metrics_address(const std::string& text) {
  auto e = wgnet::wg::Endpoint::parse(text);
  if (!e || e->port == 0)
    throw wgnet::InputError("--metrics: '" + text +
                            "' is not ADDR:PORT; expected e.g. 127.0.0.1:9586 or [::]:9586");
  return *e;
}

int serve(const Settings& s) {
  using namespace wgnet;
  log::set_level(log::parse_level(s.log_level, "--log-level"));
  log::set_info_to_stdout(s.log_info_to_stdout);
  ::umask(077);  // state files, logs and the socket are for root only
  disable_core_dumps();
  const unsigned long open_files = raise_open_file_limit();

  // Signals are taken by one thread with sigwait, so block them everywhere first.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::optional<wg::Endpoint> metrics_address;
  if (!s.metrics.empty()) metrics_address = parse_metrics_address(s.metrics);
  metrics::Registry registry;
  driver::register_metrics(registry);
  wg::BackendOptions backend_options;
  backend_options.external_program = s.wireguard_go;
  backend_options.log_dir = s.state_dir + "/logs";
  backend_options.engine_test_timings = engine::test_hooks::timings_from_env();
  const UserIds engine_ids = engine_user(s.engine_user);
  backend_options.engine_tun_owner = engine_ids.uid;
  if (s.engine_process) backend_options.engine_process = engine_process(s, engine_ids, registry);
  wg::Backends backends(backend_options);
  driver::StateStore state(s.state_dir);
  log::info("wgnetd " WGNET_VERSION " starting; backends: " + backends.describe() +
            "; open files up to " + std::to_string(open_files));
  std::string chosen = backends.resolve(s.backend, "--backend");
  log::info("default backend: " + chosen + (s.backend == "auto" ? " (auto)" : ""));
  driver::LinuxHost host;
  driver::DriverConfig config;
  config.seed_dir = s.seed_dir;
  config.default_backend = chosen;
  config.sweep_interval = std::chrono::milliseconds(static_cast<int64_t>(s.sweep_interval * 1000));
  config.scope = s.scope;
  config.metrics = &registry;
  // Published ports: listeners in wgnetd's (the host's) namespace, relayed into containers.
  portmap::RelayOptions relay_options;
  // A quarter of the descriptors at most for relayed connections and flows (two each).
  relay_options.max_relayed =
      std::clamp<unsigned long>(open_files / 4, 64, relay_options.max_relayed);
  portmap::Relay ports(relay_options);
  driver::WgDriver drv(state, backends, host, ports, config);
  daemon::RequestMetrics request_metrics(registry);
  daemon::StatusSource status([&drv] { return drv.device_reports(); }, &registry);
  daemon::add_endpoint_metrics(registry, status, WGNET_VERSION);

  auto handler = [&drv, &request_metrics](const http::Request& req) {
    auto start = std::chrono::steady_clock::now();
    driver::Reply r = driver::dispatch(drv, req.target, req.body);
    auto took = std::chrono::steady_clock::now() - start;
    request_metrics.observe(req.target, r, took);
    if (log::enabled(log::Level::kDebug)) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(took);
      log::debug(req.target + " -> " + std::to_string(r.status) + " in " +
                 std::to_string(us.count() / 1000.0) + " ms");
    }
    return http::Response{r.status, "application/vnd.docker.plugins.v1+json", r.body};
  };
  http::ServerOptions http_options;
  http_options.is_cheap = is_cheap_call;
  // The server's own refusals reach Docker in Docker's error shape, from the driver's builder.
  http_options.error_reply = [](unsigned status, std::string_view message) {
    driver::Reply r = driver::error_reply(status, message);
    return http::Response{r.status, "application/vnd.docker.plugins.v1+json", r.body};
  };
  http_options.handler_deadline = std::chrono::seconds(s.handler_timeout);
  // Claiming the socket first makes a second wgnetd on the same socket stop here, before its
  // reconciliation could touch devices the first one serves. Calls wait until run().
  http::UnixServer server(s.socket, handler, http_options);
  // The admin socket is for people, the plugin socket for Docker: a wgnetd that cannot have its
  // admin socket (another wgnetd serves that path, a read-only /run) still serves Docker.
  std::optional<http::UnixServer> admin;
  if (!s.admin_socket.empty()) {
    try {
      admin.emplace(
          s.admin_socket,
          [&status, &registry](const http::Request& req) {
            return daemon::serve_admin(req, status, registry);
          },
          daemon::side_server_options());
    } catch (const SystemError& e) {
      log::error(std::string("no admin socket, so `wgnet status` cannot reach this wgnetd: ") +
                 e.what() + "; give it another with --admin-socket PATH");
    }
  }
  std::optional<http::TcpServer> metrics_server;
  if (metrics_address)
    metrics_server.emplace(
        metrics_address->address.str(), metrics_address->port,
        [&registry](const http::Request& req) {
          if (req.target != "/metrics") return http::plain_error(404, "metrics are at /metrics");
          return http::Response{200, std::string(metrics::kContentType), registry.render()};
        },
        daemon::side_server_options());
  drv.restore();
  std::string name = std::filesystem::path(s.socket).stem().string();
  log::info("serving driver '" + name + "' on " + s.socket + " (scope " + s.scope + ")");
  std::optional<ServerThread<http::UnixServer>> admin_thread;
  if (admin) {
    admin_thread.emplace(*admin);
    log::info("admin socket (wgnet status): " + s.admin_socket);
  }
  std::optional<ServerThread<http::TcpServer>> metrics_thread;
  if (metrics_server) {
    metrics_thread.emplace(*metrics_server);
    log::info("metrics: http://" + metrics_address->str() + "/metrics");
  }

  std::atomic<bool> stopping{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (stopping) return;  // woken by the guard below
    log::info(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + "; stopping");
    server.stop();
  });
  // However run() ends (a signal, or an exception), the waiter is woken and joined.
  struct JoinWaiter {
    std::thread& t;
    std::atomic<bool>& stopping;
    ~JoinWaiter() {
      stopping = true;
      pthread_kill(t.native_handle(), SIGTERM);
      t.join();
    }
  } join_waiter{waiter, stopping};
  server.run();
  log::info("stopped; socket " + s.socket + " removed");
  return 0;
}

// `--keeper`: this wgnetd's command line without it, run by a keeper (daemon/keeper.h) with the
// log settings wgnetd would have. The program is this very file (not argv[0], which PATH might
// resolve elsewhere).
int keep(const Settings& s, int argc, char** argv) {
  using namespace wgnet;
  log::set_level(log::parse_level(s.log_level, "--log-level"));
  log::set_info_to_stdout(s.log_info_to_stdout);
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw SystemError("keeper: cannot read /proc/self/exe: " + ec.message());
  std::vector<std::string> args{self.string()};
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a != "--keeper" && !a.starts_with("--keeper=")) args.emplace_back(a);
  }
  return daemon::run_keeper(args);
}

}  // namespace

int main(int argc, char** argv) {
  // The plugin's PID 1 (--keeper) must not lose Docker's SIGTERM while it starts: the kernel drops
  // a signal that PID 1 of a namespace has no handler for, unless it is blocked (then it stays
  // pending for the keeper's sigwaitinfo). So they are blocked before anything else.
  const sigset_t keeper_signals = wgnet::daemon::keeper_signals();
  const bool maybe_keeper = std::any_of(argv + 1, argv + argc, [](const char* a) {
    return std::string_view(a).starts_with("--keeper");
  });
  if (maybe_keeper) sigprocmask(SIG_BLOCK, &keeper_signals, nullptr);
  Settings s;
  bool keeper = false;
  CLI::App app{
      "wgnetd: the wgnet Docker network plugin (libnetwork remote driver).\n"
      "Gives each container a WireGuard interface as its only network."};
  app.set_version_flag(
      "--version",
      std::string(WGNET_VERSION) +
          (wgnet::engine::test_hooks::enabled() ? " (test build: test hooks compiled in)" : ""));
  app.add_option("--socket", s.socket,
                 "unix socket Docker finds the plugin at; the driver name is "
                 "its file name without .sock")
      ->capture_default_str();
  app.add_option("--state-dir", s.state_dir, "where state.db (0600) and device logs live")
      ->capture_default_str();
  app.add_option("--seed-dir", s.seed_dir, "wgnet.seed-file and wgnet.peers-file must lie in here")
      ->capture_default_str();
  app.add_option("--backend", s.backend,
                 "auto, kernel, engine or external: the default for networks "
                 "without wgnet.backend")
      ->capture_default_str();
  app.add_option("--log-level", s.log_level, "debug, info, warn or error")->capture_default_str();
  app.add_flag(
      "--log-info-to-stdout", s.log_info_to_stdout,
      "debug and info lines to stdout, warn and error to stderr (a managed plugin: dockerd "
      "logs its stdout at level info, its stderr at level error)");
  app.add_option("--wireguard-go", s.wireguard_go, "the userspace program of the external backend")
      ->capture_default_str();
  app.add_option("--sweep-interval", s.sweep_interval,
                 "seconds between checks for containers that died without telling the plugin "
                 "(dockerd killed); their devices are removed (0 = never)")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--admin-socket", s.admin_socket,
                 "unix socket (0600) for `wgnet status` and GET /metrics; '' for none "
                 "(`wgnet status` also reads WGNETD_ADMIN_SOCKET)")
      ->capture_default_str();
  app.add_option("--metrics", s.metrics,
                 "serve Prometheus metrics at http://ADDR:PORT/metrics, without authentication: "
                 "bind a loopback address (127.0.0.1:9586), or scrape the admin socket instead; "
                 "off by default")
      ->type_name("ADDR:PORT");
  app.add_option("--handler-timeout", s.handler_timeout,
                 "seconds a Docker call may take before it is answered with an error, so a "
                 "stuck call never stalls dockerd (the call may still finish)")
      ->check(CLI::Range(1u, 3600u))
      ->capture_default_str();
  app.add_option("--scope", s.scope,
                 "local: networks of one host; global: swarm networks (docker network create "
                 "--scope swarm), addresses allocated by the swarm for the whole cluster (a global "
                 "driver serves no network outside swarm)")
      ->check(CLI::IsMember({"local", "global"}))
      ->capture_default_str();
  app.add_option("--engine-user", s.engine_user,
                 "user (NAME, UID or UID:GID, not root) that owns the engine's TUN devices, so "
                 "no process in a container can attach to its wg0 while no engine holds it; "
                 "default: wgnet-engine if the system has that user, else nobody (65534)")
      ->type_name("USER");
  app.add_flag("--engine-process,!--no-engine-process", s.engine_process,
               "run the engine backend in a process of its own (the default), sandboxed (no "
               "capability, seccomp, --engine-user's ids, no file system), holding only its "
               "devices' keys; restarted with every device when it dies; it carries the tunnels "
               "on while wgnetd is down, and the next wgnetd takes it over (STATE_DIR/engine.sock)"
               ". --no-engine-process: the engine runs inside wgnetd, which holds every seed");
  app.add_option(
         "--engine-program", s.engine_program,
         "the wgnet-engine program the engine process runs; default: beside wgnetd, else in "
         "PATH")
      ->type_name("PATH");
  // Not from the environment (below): the wgnetd it starts inherits that.
  app.add_flag("--keeper", keeper,
               "run wgnetd (these options without --keeper) as a child, restart it when it dies "
               "and reap what it leaves: the managed plugin's first process, so that the engine "
               "process outlives wgnetd there too (under systemd, systemd does this)");
  // Every option can also come from the environment (WGNETD_BACKEND, ...): how a managed plugin
  // is configured (`docker plugin set wgnet/wgnet:latest WGNETD_BACKEND=external`).
  for (CLI::Option* o : app.get_options()) {
    std::string name = o->get_single_name();
    if (name == "help" || name == "version" || name == "keeper") continue;
    std::string env = "WGNETD_";
    for (char c : name) env += c == '-' ? '_' : static_cast<char>(std::toupper(c));
    o->envname(env);
  }
  try {
    app.parse(argc, argv);
    if (maybe_keeper && !keeper) sigprocmask(SIG_UNBLOCK, &keeper_signals, nullptr);
    return keeper ? keep(s, argc, argv) : serve(s);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "wgnetd: error: " << e.what() << " (see --help)\n";
    return 2;
  } catch (const wgnet::InputError& e) {
    std::cerr << "wgnetd: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "wgnetd: error: " << e.what() << "\n";
    return 1;
  }
}
