// Availability is probed once per backend and cached: the kernel probe creates a link.
#include "wg/backends.h"

#include "util/error.h"
#include "wg/external.h"
#include "wg/kernel.h"

namespace wgnet::wg {

Backends::Backends(BackendOptions options) : options_(std::move(options)) {}
Backends::~Backends() = default;

bool Backends::available(const std::string& name, std::string* why) {
  if (auto it = probed_.find(name); it != probed_.end()) {
    if (why) *why = it->second.second;
    return it->second.first;
  }
  std::string reason;
  bool ok = false;
  if (name == "kernel") {
    ok = kernel_wireguard_available(&reason);
  } else if (name == "external") {
    ok = ExternalBackend::program_available(options_.external_program, &reason);
  } else if (name == "engine") {
    reason =
        "the embedded engine is not part of this build yet; use external (wireguard-go) or kernel";
  } else {
    reason = "unknown backend";
  }
  probed_[name] = {ok, reason};
  if (why) *why = reason;
  return ok;
}

std::string Backends::resolve(const std::string& requested, std::string_view what) {
  std::lock_guard lock(mutex_);
  std::string why;
  if (requested == "auto") {
    for (const char* n : {"kernel", "engine", "external"})
      if (available(n, nullptr)) return n;
    available("external", &why);
    throw InputError(std::string(what) +
                     "=auto: no WireGuard backend is available: the kernel has "
                     "no WireGuard module and " +
                     why);
  }
  if (requested != "kernel" && requested != "engine" && requested != "external")
    throw InputError(std::string(what) + ": '" + requested +
                     "' is not known; expected auto, kernel, engine or external");
  if (!available(requested, &why))
    throw InputError(std::string(what) + "=" + requested + ": not available on this host: " + why);
  return requested;
}

Backend& Backends::get(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto& b = made_[name];
  if (!b) {
    if (name == "kernel")
      b = std::make_unique<KernelBackend>();
    else if (name == "external")
      b = std::make_unique<ExternalBackend>(
          ExternalBackend::Options{options_.external_program, options_.log_dir});
    else
      throw SystemError("backend '" + name + "' is not available");
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
  for (const char* n : {"kernel", "engine", "external"}) {
    std::string why;
    bool ok = available(n, &why);
    s += std::string(s.empty() ? "" : "; ") + n + ": " +
         (ok ? "available" : "unavailable (" + why + ")");
  }
  return s;
}

}  // namespace wgnet::wg
