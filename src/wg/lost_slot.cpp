#include "wg/lost_slot.h"

namespace wgnet::wg {

void LostSlot::set(Backend::LostHandler handler) {
  std::unique_lock lock(mu_);
  handler_ = std::move(handler);
  if (!handler_) done_.wait(lock, [&] { return running_ == 0; });
}

void LostSlot::report(const std::string& ifname) {
  Backend::LostHandler handler;
  {
    std::lock_guard lock(mu_);
    if (!handler_) return;
    handler = handler_;
    running_++;
  }
  handler(ifname);
  {
    std::lock_guard lock(mu_);
    running_--;
  }
  done_.notify_all();
}

}  // namespace wgnet::wg
