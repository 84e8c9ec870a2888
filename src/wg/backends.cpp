// Availability is probed once per backend and cached: the kernel probe creates a link.
#include "wg/backends.h"

#include <functional>

#include "util/error.h"
#include "wg/engine_backend.h"
#include "wg/engine_process_backend.h"
#include "wg/external.h"
#include "wg/kernel.h"

namespace wgnet::wg {

namespace {

struct Kind {
  const char* name;
  // Whether this host can use it; sets `why` when not.
  std::function<bool(const BackendOptions&, std::string* why)> probe;
  std::function<std::unique_ptr<Backend>(const BackendOptions&)> make;
};

// In order of preference for `auto`. The one place to add a backend.
const std::vector<Kind>& kinds() {
  static const std::vector<Kind> table = {
      {"kernel",
       [](const BackendOptions&, std::string* why) { return kernel_wireguard_available(why); },
       [](const BackendOptions&) { return std::make_unique<KernelBackend>(); }},
      {"engine",
       [](const BackendOptions& o, std::string* why) {
         if (o.engine_process && o.engine_process->program.empty()) {
           if (why)
             *why =
                 "no wgnet-engine beside wgnetd or in PATH for the engine process (name it "
                 "with --engine-program, or run the engine inside wgnetd with "
                 "--no-engine-process)";
           return false;
         }
         return EngineBackend::available(why);
       },
       [](const BackendOptions& o) -> std::unique_ptr<Backend> {
         if (o.engine_process) {
           EngineProcessBackend::Options p;
           p.uapi_dir = o.uapi_dir;
           p.tun_owner = o.engine_tun_owner;
           p.process = *o.engine_process;
           return std::make_unique<EngineProcessBackend>(std::move(p));
         }
         return std::make_unique<EngineBackend>(EngineBackend::Options{
             o.uapi_dir, o.engine_workers, o.engine_test_timings, o.engine_tun_owner});
       }},
      {"external",
       [](const BackendOptions& o, std::string* why) {
         return ExternalBackend::program_available(o.external_program, why);
       },
       [](const BackendOptions& o) {
         return std::make_unique<ExternalBackend>(
             ExternalBackend::Options{o.external_program, o.log_dir});
       }},
  };
  return table;
}

const Kind* find_kind(const std::string& name) {
  for (const auto& k : kinds())
    if (name == k.name) return &k;
  return nullptr;
}

}  // namespace

const std::vector<std::string>& backend_choices() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v{"auto"};
    for (const auto& k : kinds()) v.emplace_back(k.name);
    return v;
  }();
  return names;
}

std::string backend_choices_text() {
  const auto& c = backend_choices();
  std::string s;
  for (size_t i = 0; i < c.size(); i++)
    s += (i == 0 ? "" : i + 1 == c.size() ? " or " : ", ") + c[i];
  return s;
}

Backends::Backends(BackendOptions options) : options_(std::move(options)) {}
Backends::~Backends() = default;

bool Backends::available(const std::string& name, std::string* why) {
  if (auto it = probed_.find(name); it != probed_.end()) {
    if (why) *why = it->second.second;
    return it->second.first;
  }
  std::string reason;
  const Kind* kind = find_kind(name);
  bool ok = kind ? kind->probe(options_, &reason) : false;
  if (!kind) reason = "unknown backend";
  probed_[name] = {ok, reason};
  if (why) *why = reason;
  return ok;
}

std::string Backends::resolve(const std::string& requested, std::string_view what) {
  std::lock_guard lock(mutex_);
  std::string why;
  if (requested == "auto") {
    std::string reasons;
    for (const auto& k : kinds()) {
      if (available(k.name, &why)) return k.name;
      reasons += std::string(reasons.empty() ? "" : "; ") + k.name + ": " + why;
    }
    throw InputError(std::string(what) + "=auto: no WireGuard backend is available (" + reasons +
                     ")");
  }
  if (!find_kind(requested) && !made_.count(requested))
    throw InputError(std::string(what) + ": '" + requested + "' is not known; expected " +
                     backend_choices_text());
  if (!available(requested, &why))
    throw InputError(std::string(what) + "=" + requested + ": not available on this host: " + why);
  return requested;
}

Backend& Backends::get(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto& b = made_[name];
  if (!b) {
    const Kind* kind = find_kind(name);
    if (!kind || !kind->make) {
      made_.erase(name);
      throw SystemError("backend '" + name + "' is not available");
    }
    b = kind->make(options_);
  }
  return *b;
}

void Backends::add(const std::string& name, std::unique_ptr<Backend> backend) {
  std::lock_guard lock(mutex_);
  made_[name] = std::move(backend);
  probed_[name] = {true, ""};
}

std::string Backends::describe() {
  std::lock_guard lock(mutex_);
  std::string s;
  for (const auto& k : kinds()) {
    std::string why;
    bool ok = available(k.name, &why);
    s += std::string(s.empty() ? "" : "; ") + k.name + ": " +
         (ok ? "available" : "unavailable (" + why + ")");
  }
  return s;
}

}  // namespace wgnet::wg
