// The lost-device handler of a backend, as Backend::on_lost's contract wants it: installed and
// replaced from any thread; set(nullptr) returns only when no call of the old handler is running.
// Every backend whose devices can die on their own keeps one.
#pragma once
#include <condition_variable>
#include <mutex>
#include <string>

#include "wg/backend.h"

namespace wgnet::wg {

class LostSlot {
 public:
  void set(Backend::LostHandler handler);
  // Calls the handler with `ifname`, when one is installed, without holding any lock of this slot
  // (the handler may call back into the backend).
  void report(const std::string& ifname);

 private:
  std::mutex mu_;
  Backend::LostHandler handler_;
  int running_ = 0;
  std::condition_variable done_;
};

}  // namespace wgnet::wg
