// Every request is answered, errors included: an exception from the engine becomes the reply's
// errno and message (names and numbers only: the engine's messages never hold a key).
#include "engine/linux/control_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <type_traits>
#include <utility>
#include <variant>

#include "engine/linux/tun_linux.h"
#include "engine/linux/udp_linux.h"
#include "util/error.h"
#include "util/log.h"

namespace wgnet::engine {

using namespace control;

namespace {

// The status an exception stands for: wireguard-go's errnos for refused configurations.
Status status_of(const std::exception& e) {
  if (dynamic_cast<const InputError*>(&e)) return {-EINVAL, e.what()};
  return {-EIO, e.what()};
}

std::unique_ptr<UdpBindLinux> adopt_udp(const UdpBinding& b, std::vector<Fd>& fds, size_t first,
                                        size_t batch) {
  UdpFeatures features;
  features.ipv6 = b.ipv6;
  features.gro = b.gro;
  features.gso = b.gso;
  UdpOptions options;
  options.batch = batch;
  options.mark_by_owner = true;  // wgnetd set SO_MARK on its sockets
  Fd fd6 = b.ipv6 ? std::move(fds.at(first + 1)) : Fd();
  return UdpBindLinux::adopt(std::move(fds.at(first)), std::move(fd6), b.port, features, options);
}

void add_counter(std::vector<Counter>& out, const char* name, uint64_t value) {
  out.push_back({name, value});
}

}  // namespace

ControlEvents::ControlEvents() {
  fd_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fd_) throw SystemError("control events: eventfd: " + errno_text(errno));
}

void ControlEvents::device_lost(const std::string& name, const std::string& why) {
  {
    std::lock_guard lock(mu_);
    lost_.push_back({name, why});
  }
  const uint64_t one = 1;
  (void)!::write(fd_.get(), &one, sizeof one);
}

std::deque<DeviceLost> ControlEvents::take() {
  uint64_t n;
  (void)!::read(fd_.get(), &n, sizeof n);
  std::lock_guard lock(mu_);
  return std::exchange(lost_, {});
}

ControlServer::ControlServer(ControlChannel& channel, Engine& engine, ControlEvents& events,
                             Options options)
    : channel_(channel), engine_(engine), options_(std::move(options)), events_(events) {}

void ControlServer::send_events() {
  for (const auto& e : events_.take()) channel_.send(encode_from_engine(e, 0));
}

ControlServer::End ControlServer::run(int stop_fd) {
  for (;;) {
    pollfd fds[3] = {{channel_.fd(), POLLIN, 0}, {events_.fd(), POLLIN, 0}, {stop_fd, POLLIN, 0}};
    const int n = ::poll(fds, stop_fd >= 0 ? 3 : 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SystemError("control server: poll: " + errno_text(errno));
    }
    if (stop_fd >= 0 && fds[2].revents) return End::kShutdown;
    if (fds[1].revents) send_events();
    if (!fds[0].revents) continue;
    ReceivedMessage in;
    try {
      in = channel_.receive();
    } catch (const ChannelClosed&) {
      return End::kClosed;
    }
    const Request request = decode_request(in.message);
    const FromEngine reply = serve(request, in.fds);
    Message out;
    try {
      out = encode_from_engine(reply, in.message.id);
    } catch (const ProtocolError& e) {
      // A reply that cannot be put on the wire (a field out of its bounds) is an error reply.
      log::warn(std::string("engine: reply not sent: ") + e.what());
      out = encode_from_engine(Reply{type_of(request), {-EIO, "the reply could not be encoded"}},
                               in.message.id);
    }
    channel_.send(out);
    if (std::holds_alternative<Shutdown>(request)) return End::kShutdown;
  }
}

FromEngine ControlServer::serve(const Request& request, std::vector<Fd>& fds) {
  const auto reply = [](Type type, Status status = {}) { return Reply{type, std::move(status)}; };
  return std::visit(
      [&](const auto& r) -> FromEngine {
        using T = std::decay_t<decltype(r)>;
        try {
          if constexpr (std::is_same_v<T, Hello>) {
            HelloReply out;
            out.pid = static_cast<uint32_t>(::getpid());
            out.build = options_.build;
            out.devices = static_cast<uint32_t>(engine_.names().size());
            if (r.protocol != kProtocol)
              out.status = {-EPROTO, "this engine speaks protocol " + std::to_string(kProtocol)};
            return out;
          } else if constexpr (std::is_same_v<T, AddDevice>) {
            TunFeatures features;
            features.vnet_hdr = r.tun.vnet_hdr;
            features.tso = r.tun.tso;
            features.uso = r.tun.uso;
            auto tun = TunLinux::adopt(std::move(fds.at(0)), features, r.mtu, options_.batch);
            auto binds = std::make_shared<HandedBinds>();
            binds->offer(adopt_udp(r.udp, fds, 1, options_.batch));
            AddOptions add;
            add.config = r.config;
            add.binds = binds;
            add.uapi = false;
            engine_.add(r.name, std::move(tun), std::move(add));
            binds_[r.name] = binds;
            return reply(Type::kAddDevice);
          } else if constexpr (std::is_same_v<T, Configure>) {
            auto it = binds_.find(r.name);
            if (it == binds_.end())
              return reply(Type::kConfigure, {-ENODEV, "no device " + r.name});
            if (r.rebind) it->second->offer(adopt_udp(*r.rebind, fds, 0, options_.batch));
            engine_.apply(r.name, r.config);
            return reply(Type::kConfigure);
          } else if constexpr (std::is_same_v<T, UapiSet>) {
            auto it = binds_.find(r.name);
            if (it == binds_.end()) return reply(Type::kUapiSet, {-ENODEV, "no device " + r.name});
            if (r.rebind) it->second->offer(adopt_udp(*r.rebind, fds, 0, options_.batch));
            const std::string_view body(reinterpret_cast<const char*>(r.body.data()),
                                        r.body.size());
            const int err = engine_.uapi_set(r.name, body);
            return reply(Type::kUapiSet, {err, err ? "refused" : ""});
          } else if constexpr (std::is_same_v<T, Get>) {
            GetReply out;
            if (!engine_.contains(r.name)) {
              out.status = {-ENODEV, "no device " + r.name};
              return out;
            }
            std::string text = engine_.uapi_get(r.name);
            out.uapi = crypto::SecretBytes(
                std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
            crypto::wipe(text);
            return out;
          } else if constexpr (std::is_same_v<T, Info>) {
            InfoReply out;
            if (!engine_.contains(r.name)) {
              out.status = {-ENODEV, "no device " + r.name};
              return out;
            }
            const InterfaceInfo i = engine_.info(r.name);
            if (i.lost || i.ifname.empty()) {
              out.status = {-ENODEV, "the device of " + r.name + " is gone"};
              return out;
            }
            out.ifname = i.ifname;
            out.ifindex = static_cast<uint32_t>(i.ifindex);
            out.mtu = i.mtu;
            out.listen_port = i.listen_port;
            out.lost = i.lost;
            add_counter(out.counters, "tun.packets_read", i.tun.packets_read);
            add_counter(out.counters, "tun.packets_written", i.tun.packets_written);
            add_counter(out.counters, "tun.write_dropped", i.tun.write_dropped);
            add_counter(out.counters, "udp.rx_datagrams", i.udp.rx_datagrams);
            add_counter(out.counters, "udp.tx_datagrams", i.udp.tx_datagrams);
            add_counter(out.counters, "udp.tx_dropped", i.udp.tx_dropped);
            add_counter(out.counters, "device.decrypt_failed", i.counters.decrypt_failed);
            add_counter(out.counters, "device.staged_dropped", i.counters.staged_dropped);
            return out;
          } else if constexpr (std::is_same_v<T, SetMtu>) {
            if (!engine_.contains(r.name))
              return reply(Type::kSetMtu, {-ENODEV, "no device " + r.name});
            engine_.set_mtu(r.name, r.mtu);
            return reply(Type::kSetMtu);
          } else if constexpr (std::is_same_v<T, RemoveDevice>) {
            binds_.erase(r.name);
            if (!engine_.remove(r.name))
              return reply(Type::kRemoveDevice, {-ENODEV, "no device " + r.name});
            return reply(Type::kRemoveDevice);
          } else if constexpr (std::is_same_v<T, Export>) {
            return reply(Type::kExport, {-ENOSYS, "export is not implemented yet"});
          } else if constexpr (std::is_same_v<T, Shutdown>) {
            for (const auto& name : engine_.names()) engine_.remove(name);
            binds_.clear();
            return reply(Type::kShutdown);
          } else {
            static_assert(std::is_same_v<T, UnknownRequest>);
            return answer_unknown(r);
          }
        } catch (const std::exception& e) {
          if constexpr (std::is_same_v<T, UnknownRequest>) {
            return answer_unknown(r);
          } else {
            log::warn("engine: " + type_name(type_of(request)) + " failed: " + e.what());
            return reply(type_of(request), status_of(e));
          }
        }
      },
      request);
}

}  // namespace wgnet::engine
