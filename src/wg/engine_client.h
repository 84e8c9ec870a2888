// wgnetd's end of the control socket to its engine process (docs/PRIVSEP-PLAN.md §1.2): typed
// calls, each sent and answered in turn, and the engine's events (a device lost) collected
// whenever they arrive. Everything the engine sends is untrusted: a reply that does not decode,
// does not fit its request or does not come in time makes the client broken, and the caller
// (EngineSupervisor) replaces the engine.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "engine/control/messages.h"
#include "engine/linux/control_channel.h"
#include "util/error.h"
#include "util/fd.h"

namespace wgnet::wg {

namespace control = engine::control;

// The engine refused a request: its errno (negative, wireguard-go's for configurations) and text.
class EngineRefused : public SystemError {
 public:
  EngineRefused(int error, const std::string& what) : SystemError(what), error_(error) {}
  int error() const { return error_; }

 private:
  int error_;
};

// The engine cannot be talked to any more (it closed the socket, broke the protocol or did not
// answer in time): the supervisor restarts it.
class EngineBroken : public SystemError {
 public:
  using SystemError::SystemError;
};

class EngineClient {
 public:
  // `socket`: wgnetd's end of the SOCK_SEQPACKET pair. `deadline`: how long one reply may take.
  explicit EngineClient(Fd socket, std::chrono::milliseconds deadline = std::chrono::seconds(10));

  int fd() const { return channel_.fd(); }
  bool broken() const;

  // Sends `request` (with `fds`, as many as its type takes) and returns the engine's answer to it;
  // events that arrive meanwhile are kept for take_events() (at most 4096). Throws EngineBroken
  // (and stays broken) for anything else: no answer in time, an answer to another request, a
  // message that does not decode. Calls are serialised.
  control::FromEngine call(const control::Request& request, std::span<const int> fds = {});
  // call() for requests answered with a plain Reply: throws EngineRefused when it carries an error.
  void call_ok(const control::Request& request, std::span<const int> fds = {});

  // A device the engine hands back (Export), with its descriptors: TUN, UDP4, [UDP6]. Untrusted:
  // the caller checks what they are before use.
  struct Exported {
    control::ExportDevice device;
    std::vector<Fd> fds;
  };
  // Export: every device the engine serves, at most `max` (more breaks the client). Throws
  // EngineBroken, or EngineRefused when the engine refuses.
  std::vector<Exported> export_devices(size_t max);

  // Reads what waits on the socket without blocking for it: events (anything else breaks the
  // client). Throws EngineBroken.
  void read_pending();
  // The engine sent something that does not fit (checked by the caller): the client is broken
  // from now on. Throws EngineBroken.
  [[noreturn]] void protocol_error(const std::string& what);
  // The events received so far, oldest first.
  std::deque<control::DeviceLost> take_events();

 private:
  // Takes one message (mu_ held); returns its id, keeping events. Its descriptors go to `fds`
  // (closed when null).
  control::FromEngine receive_one(uint32_t* id, std::vector<Fd>* fds = nullptr);
  // Sends `request` with a new id (mu_ held); returns the id.
  uint32_t send_request(const control::Request& request, std::span<const int> fds);
  [[noreturn]] void fail(const std::string& what);

  mutable std::mutex mu_;
  engine::ControlChannel channel_;
  uint32_t next_id_ = 0;
  bool broken_ = false;
  std::deque<control::DeviceLost> events_;
};

}  // namespace wgnet::wg
