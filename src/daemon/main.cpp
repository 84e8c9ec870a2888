// `wgnetd`: the Docker network plugin. Wires the HTTP server to the driver, restores state,
// and shuts down cleanly on SIGTERM/SIGINT (devices stay: containers keep their tunnels).
#include <signal.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string_view>
#include <thread>

#include "driver/api.h"
#include "driver/driver.h"
#include "driver/host_linux.h"
#include "driver/state.h"
#include "http/server.h"
#include "util/error.h"
#include "util/hardening.h"
#include "util/log.h"
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
  double sweep_interval = 10;  // seconds
  unsigned handler_timeout = 60;  // seconds
  std::string scope = "local";
};

// Calls that only read memory: they get a lane of their own, so activation and `docker inspect`
// never wait behind a slow Join.
bool is_cheap_call(std::string_view target) {
  return target == "/Plugin.Activate" || target == "/NetworkDriver.GetCapabilities" ||
         target == "/NetworkDriver.EndpointOperInfo";
}

int serve(const Settings& s) {
  using namespace wgnet;
  log::set_level(log::parse_level(s.log_level, "--log-level"));
  log::set_info_to_stdout(s.log_info_to_stdout);
  ::umask(077);  // state files, logs and the socket are for root only
  disable_core_dumps();

  // Signals are taken by one thread with sigwait, so block them everywhere first.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  wg::BackendOptions backend_options;
  backend_options.external_program = s.wireguard_go;
  backend_options.log_dir = s.state_dir + "/logs";
  // Tests only: the engine's protocol timers shortened (engine::parse_timings syntax).
  if (const char* t = std::getenv("WGNET_ENGINE_TEST_TIMINGS"); t && *t)
    backend_options.engine_test_timings = t;
  wg::Backends backends(backend_options);
  driver::StateStore state(s.state_dir);
  log::info("wgnetd " WGNET_VERSION " starting; backends: " + backends.describe());
  std::string chosen = backends.resolve(s.backend, "--backend");
  log::info("default backend: " + chosen + (s.backend == "auto" ? " (auto)" : ""));
  driver::LinuxHost host;
  driver::DriverConfig config;
  config.seed_dir = s.seed_dir;
  config.default_backend = chosen;
  config.sweep_interval = std::chrono::milliseconds(static_cast<int64_t>(s.sweep_interval * 1000));
  config.scope = s.scope;
  driver::WgDriver drv(state, backends, host, config);

  auto handler = [&drv](const http::Request& req) {
    auto start = std::chrono::steady_clock::now();
    driver::Reply r = driver::dispatch(drv, req.target, req.body);
    if (log::enabled(log::Level::kDebug)) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - start);
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
  drv.restore();
  std::string name = std::filesystem::path(s.socket).stem().string();
  log::info("serving driver '" + name + "' on " + s.socket + " (scope " + s.scope + ")");

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

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{
      "wgnetd: the wgnet Docker network plugin (libnetwork remote driver).\n"
      "Gives each container a WireGuard interface as its only network."};
  app.set_version_flag("--version", std::string(WGNET_VERSION));
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
  // Every option can also come from the environment (WGNETD_BACKEND, ...): how a managed plugin
  // is configured (`docker plugin set wgnet/wgnet:latest WGNETD_BACKEND=external`).
  for (CLI::Option* o : app.get_options()) {
    std::string name = o->get_single_name();
    if (name == "help" || name == "version") continue;
    std::string env = "WGNETD_";
    for (char c : name) env += c == '-' ? '_' : static_cast<char>(std::toupper(c));
    o->envname(env);
  }
  try {
    app.parse(argc, argv);
    return serve(s);
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
