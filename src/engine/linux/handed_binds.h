// The UDP binds of one interface of a supervised engine (docs/PRIVSEP-PLAN.md §1.4). The engine
// opens no socket (its sandbox would not let it): wgnetd opens them, on the port the device's
// configuration asks for, and hands them over with the request that needs them (AddDevice,
// Configure, UapiSet). The control server offer()s that bind before it applies the request's body;
// when the Device then asks for a bind (it goes up, its listen port changes), open() gives it the
// one offered, once.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>

#include "engine/bind.h"

namespace wgnet::engine {

class HandedBinds final : public BindFactory {
 public:
  // The bind the next open() takes (one offered before and never taken is closed).
  void offer(std::unique_ptr<Bind> bind);
  // The offered bind, when its port is `port` or `port` is 0 (any free port: the one wgnetd
  // picked). Else throws SystemError (EADDRNOTAVAIL): nothing was handed over for that port.
  std::unique_ptr<Bind> open(uint16_t port) override;
  // Whether a bind waits to be taken.
  bool offered() const;

 private:
  mutable std::mutex mu_;
  std::unique_ptr<Bind> offered_;
};

}  // namespace wgnet::engine
