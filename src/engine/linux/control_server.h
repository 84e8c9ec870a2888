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
  static constexpr size_t kMaxQueued = 4096;  // wgnetd's client takes no more unread either
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

  // Serves one controller after another (plan §3.3): the devices and their descriptors outlive a
  // controller's connection.
  ControlServer(Engine& engine, ControlEvents& events, Options options);
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Serves `channel` until the controller closes its end (kClosed) or asks for Shutdown, or
  // `stop_fd` (a signalfd, -1: none) becomes readable (kShutdown). A connection that waits on
  // `listen_fd` (-1: none) meanwhile is accepted and closed at once: one controller at a time. A
  // malformed message from the controller, a stalled one (ChannelTimeout) or a failed send
  // throws, after closing every descriptor that came.
  End run(ControlChannel& channel, int stop_fd = -1, int listen_fd = -1);

  // Answers one decoded request (its descriptors in `fds`, taken). Export is answered by run().
  // Exposed for tests.
  control::FromEngine serve(const control::Request& request, std::vector<Fd>& fds);

 private:
  // What the engine keeps of a device it was handed, to hand it back (Export): the descriptor
  // numbers stay valid while the engine serves the device.
  struct Sockets {
    control::UdpBinding udp;
    int udp4 = -1, udp6 = -1;
  };
  struct Handed {
    std::shared_ptr<HandedBinds> binds;
    control::TunFlags tun;
    int tun_fd = -1;
    Sockets sockets;  // the ones the device took (not one offered with a refused configuration)
  };

  void send_events(ControlChannel& channel);
  // Every device the engine still serves, one ExportDevice each with its descriptors, then the
  // ExportReply.
  void export_devices(ControlChannel& channel, uint32_t id);
  // Offers the sockets of `b` (from fds[first], fds[first + 1]) to device `d`'s binds; returns
  // what to record once the device has taken them.
  Sockets adopt_udp(Handed& d, const control::UdpBinding& b, std::vector<Fd>& fds, size_t first);

  Engine& engine_;
  Options options_;
  ControlEvents& events_;
  std::map<std::string, Handed> devices_;  // main thread only
};

}  // namespace wgnet::engine
