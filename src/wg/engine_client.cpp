#include "wg/engine_client.h"

#include <poll.h>

#include <variant>

namespace wgnet::wg {

using namespace engine::control;

EngineClient::EngineClient(Fd socket, std::chrono::milliseconds deadline)
    : channel_(std::move(socket), deadline) {}

bool EngineClient::broken() const {
  std::lock_guard lock(mu_);
  return broken_;
}

void EngineClient::fail(const std::string& what) {
  broken_ = true;
  throw EngineBroken("engine process: " + what);
}

FromEngine EngineClient::receive_one(uint32_t* id, std::vector<Fd>* fds) {
  try {
    engine::ReceivedMessage in = channel_.receive();
    // Nothing the engine sends carries descriptors unless asked for (Export): else they close.
    FromEngine m = decode_from_engine(in.message);
    if (fds) *fds = std::move(in.fds);
    *id = in.message.id;
    if (auto* lost = std::get_if<DeviceLost>(&m)) {
      if (*id != 0) fail("an event with a request id");
      if (events_.size() >= 4096) fail("more than 4096 events unread");
      events_.push_back(*lost);
    } else if (*id == 0) {
      fail("an answer without a request id");
    }
    return m;
  } catch (const EngineBroken&) {
    throw;
  } catch (const engine::ChannelClosed&) {
    fail("closed the control socket");
  } catch (const engine::ChannelTimeout& e) {
    fail(e.what());
  } catch (const std::exception& e) {
    fail(std::string("sent what wgnetd cannot accept: ") + e.what());
  }
}

uint32_t EngineClient::send_request(const Request& request, std::span<const int> fds) {
  if (broken_) throw EngineBroken("engine process: not answering (being replaced)");
  const uint32_t id = ++next_id_ == 0 ? ++next_id_ : next_id_;
  try {
    channel_.send(encode_request(request, id), fds);
  } catch (const ProtocolError&) {
    throw;  // ours: a request that cannot be encoded (the caller's input), nothing was sent
  } catch (const std::exception& e) {
    fail(std::string("cannot send ") + type_name(type_of(request)) + ": " + e.what());
  }
  return id;
}

FromEngine EngineClient::call(const Request& request, std::span<const int> fds) {
  std::lock_guard lock(mu_);
  const uint32_t id = send_request(request, fds);
  for (;;) {
    uint32_t got = 0;
    FromEngine m = receive_one(&got);
    if (got == 0) continue;  // an event
    // One call at a time, and a call that timed out left the client broken: no other answer can
    // be due.
    if (got != id) fail("answered a request that was not asked");
    return m;
  }
}

std::vector<EngineClient::Exported> EngineClient::export_devices(size_t max) {
  std::lock_guard lock(mu_);
  const uint32_t id = send_request(Export{}, {});
  // One deadline for the whole answer, not only for each message: an engine trickling devices
  // cannot hold wgnetd's start-up.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::vector<Exported> out;
  for (;;) {
    if (std::chrono::steady_clock::now() > until) fail("Export took longer than 30 s");
    uint32_t got = 0;
    std::vector<Fd> fds;
    FromEngine m = receive_one(&got, &fds);
    if (got == 0) continue;  // an event
    if (got != id) fail("answered a request that was not asked");
    if (auto* device = std::get_if<ExportDevice>(&m)) {
      if (out.size() >= max) fail("exported more than " + std::to_string(max) + " devices");
      if (fds.size() != 1 + device->udp.fds()) fail("exported a device without its descriptors");
      out.push_back({std::move(*device), std::move(fds)});
      continue;
    }
    const auto* end = std::get_if<ExportReply>(&m);
    if (!end) fail("answered Export with another message");
    if (end->status.error != 0) throw EngineRefused(end->status.error, end->status.message);
    if (end->devices != out.size()) fail("Export's count does not match its devices");
    return out;
  }
}

void EngineClient::call_ok(const Request& request, std::span<const int> fds) {
  FromEngine m = call(request, fds);
  const auto* reply = std::get_if<Reply>(&m);
  if (!reply || reply->request != type_of(request))
    protocol_error("answered " + type_name(type_of(request)) + " with another message");
  if (reply->status.error != 0)
    throw EngineRefused(reply->status.error,
                        reply->status.message.empty() ? "refused" : reply->status.message);
}

void EngineClient::read_pending() {
  std::lock_guard lock(mu_);
  if (broken_) return;
  for (;;) {
    pollfd p{channel_.fd(), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) return;
    uint32_t id = 0;
    (void)receive_one(&id);
    if (id != 0) fail("answered a request that was not asked");
  }
}

void EngineClient::protocol_error(const std::string& what) {
  std::lock_guard lock(mu_);
  fail(what);
}

std::deque<DeviceLost> EngineClient::take_events() {
  std::lock_guard lock(mu_);
  return std::exchange(events_, {});
}

}  // namespace wgnet::wg
