// HandedBinds: a one-slot hand-over between the control server and a Device.
#include "engine/linux/handed_binds.h"

#include <cerrno>
#include <string>
#include <utility>

#include "util/error.h"

namespace wgnet::engine {

void HandedBinds::offer(std::unique_ptr<Bind> bind) {
  std::unique_ptr<Bind> old;  // closed outside the lock
  std::lock_guard lock(mu_);
  old = std::exchange(offered_, std::move(bind));
}

std::unique_ptr<Bind> HandedBinds::open(uint16_t port) {
  std::lock_guard lock(mu_);
  if (!offered_ || (port != 0 && offered_->port() != port))
    throw SystemError("UDP port " + std::to_string(port) +
                      ": no socket was handed over for it: " + errno_text(EADDRNOTAVAIL));
  return std::move(offered_);
}

bool HandedBinds::offered() const {
  std::lock_guard lock(mu_);
  return offered_ != nullptr;
}

}  // namespace wgnet::engine
