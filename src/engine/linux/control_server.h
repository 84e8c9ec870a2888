// The supervised engine's side of the control protocol (docs/PRIVSEP-PLAN.md §1.2, §1.4): serves
// wgnetd's requests against an Engine on the calling thread, one at a time. Devices arrive as
// descriptors wgnetd created and set up (TUN, UDP4, UDP6): the engine adopts them and opens
// nothing. The engine's own events (a device lost) are queued from whatever thread noticed them
// and sent between requests, never blocking an engine thread on the socket.
#pragma once
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/control/messages.h"
#include "engine/linux/control_channel.h"
#include "engine/linux/engine.h"
#include "engine/linux/handed_binds.h"
#include "util/fd.h"

namespace wgnet::engine {

// The engine's events on their way to wgnetd: queued from any engine thread, taken by the control
// server between requests. Built before the Engine and destroyed after it, so no worker can
// reach it once it is gone.
class ControlEvents {
 public:
  ControlEvents();
  // A device is lost. Any thread; never blocks on the socket.
  void device_lost(const std::string& name, const std::string& why);
  // Readable (poll) while events wait.
  int fd() const { return fd_.get(); }
  std::deque<control::DeviceLost> take();

 private:
  Fd fd_;  // eventfd
  std::mutex mu_;
  std::deque<control::DeviceLost> lost_;
};

class ControlServer {
 public:
  struct Options {
    size_t batch = 128;  // packets per TUN read / UDP receive, as EngineOptions::batch
    std::string build;   // this program's version, for Hello
  };
  enum class End { kClosed, kShutdown };

  ControlServer(ControlChannel& channel, Engine& engine, ControlEvents& events, Options options);
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Serves until the controller closes its end (kClosed) or asks for Shutdown, or `stop_fd`
  // (a signalfd, -1: none) becomes readable (kShutdown). A malformed message from the controller,
  // a stalled one (ChannelTimeout) or a failed send throws, after closing every descriptor that
  // came: with no controller to take over yet (plan §3.3), the engine then exits.
  End run(int stop_fd = -1);

  // Answers one decoded request (its descriptors in `fds`, taken). Exposed for tests.
  control::FromEngine serve(const control::Request& request, std::vector<Fd>& fds);

 private:
  void send_events();

  ControlChannel& channel_;
  Engine& engine_;
  Options options_;
  ControlEvents& events_;
  std::map<std::string, std::shared_ptr<HandedBinds>> binds_;  // per device, main thread only
};

}  // namespace wgnet::engine
