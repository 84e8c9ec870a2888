// The backends this build knows, in one table ({name, probe, factory}), and the choice among them:
// `auto` is the first available of kernel, engine, external.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/timers.h"
#include "wg/backend.h"
#include "wg/engine_supervisor.h"

namespace wgnet::wg {

struct BackendOptions {
  std::string external_program = "wireguard-go";
  std::string log_dir;          // per-device logs of external programs
  unsigned engine_workers = 0;  // the engine's worker threads; 0: one per CPU
  std::optional<engine::Timings> engine_test_timings;  // engine::test_hooks: shortened timers
  std::optional<uid_t>
      engine_tun_owner;  // TUNSETOWNER of the engine's devices (wgnetd's --engine-user)
  std::string uapi_dir = "/var/run/wireguard";  // where engine devices' UAPI sockets go
  // Set: the engine runs in a sandboxed process of its own (EngineProcessBackend); unset: inside
  // wgnetd (EngineBackend). engine_workers and engine_test_timings apply to the in-process one.
  std::optional<EngineProcessOptions> engine_process;
};

// The names a user may give (--backend, wgnet.backend): "auto" and every backend of the table.
const std::vector<std::string>& backend_choices();
// "auto, kernel, engine or external", for messages.
std::string backend_choices_text();

class Backends {
 public:
  explicit Backends(BackendOptions options);
  ~Backends();

  // "auto" → the best available backend's name; a named backend is checked. Throws InputError
  // naming `what` (e.g. "wgnet.backend") with the reason a backend is unavailable.
  std::string resolve(const std::string& requested, std::string_view what);
  // The backend of a resolved name, created on first use.
  Backend& get(const std::string& name);
  // Installs `backend` under `name` as available (tests use an in-memory backend this way).
  void add(const std::string& name, std::unique_ptr<Backend> backend);
  // A one-line summary for the start-up log: each backend and whether it is available.
  std::string describe();

 private:
  bool available(const std::string& name, std::string* why);

  BackendOptions options_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Backend>> made_;
  std::map<std::string, std::pair<bool, std::string>> probed_;
};

}  // namespace wgnet::wg
