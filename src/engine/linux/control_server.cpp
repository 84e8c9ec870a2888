// Every request is answered, errors included: an exception from the engine becomes the reply's
// errno and message (names and numbers only: the engine's messages never hold a key).
#include "engine/linux/control_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
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
    // Kept while no controller reads them (wgnetd restarting): bounded, oldest dropped.
    if (lost_.size() >= kMaxQueued) lost_.pop_front();
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

ControlServer::ControlServer(Engine& engine, ControlEvents& events, Options options)
    : engine_(engine), options_(std::move(options)), events_(events) {}

void ControlServer::send_events(ControlChannel& channel) {
  for (const auto& e : events_.take()) channel.send(encode_from_engine(e, 0));
}

ControlServer::Sockets ControlServer::adopt_udp(Handed& d, const UdpBinding& b,
                                                std::vector<Fd>& fds, size_t first) {
  UdpFeatures features;
  features.ipv6 = b.ipv6;
  features.gro = b.gro;
  features.gso = b.gso;
  UdpOptions options;
  options.batch = options_.batch;
  options.mark_by_owner = true;  // wgnetd set SO_MARK on its sockets
  const int fd4 = fds.at(first).get();
  Fd fd6 = b.ipv6 ? std::move(fds.at(first + 1)) : Fd();
  const int fd6_number = fd6.get();
  d.binds->offer(
      UdpBindLinux::adopt(std::move(fds.at(first)), std::move(fd6), b.port, features, options));
  return {b, fd4, fd6_number};
}

void ControlServer::export_devices(ControlChannel& channel, uint32_t id) {
  uint32_t sent = 0;
  for (const auto& [name, d] : devices_) {
    // A lost device is not handed back: wgnetd rebuilds it.
    if (!engine_.contains(name)) continue;
    const InterfaceInfo info = engine_.info(name);
    if (info.lost) continue;
    ExportDevice e{name, info.mtu, d.tun, d.sockets.udp, false};
    std::vector<int> fds{d.tun_fd, d.sockets.udp4};
    if (d.sockets.udp.ipv6) fds.push_back(d.sockets.udp6);
    channel.send(encode_from_engine(e, id), fds);
    sent++;
  }
  channel.send(encode_from_engine(ExportReply{{}, sent}, id));
}

ControlServer::End ControlServer::run(ControlChannel& channel, int stop_fd, int listen_fd) {
  for (;;) {
    pollfd fds[4] = {{channel.fd(), POLLIN, 0},
                     {events_.fd(), POLLIN, 0},
                     {stop_fd, POLLIN, 0},
                     {listen_fd, POLLIN, 0}};
    const int n = ::poll(fds, 4, -1);  // a negative descriptor is skipped
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SystemError("control server: poll: " + errno_text(errno));
    }
    if (stop_fd >= 0 && fds[2].revents) return End::kShutdown;
    if (fds[1].revents) send_events(channel);
    if (!fds[0].revents) {
      // Another controller while one is served: refused (it sees end of file). Only when the
      // served one has nothing pending: its end of file first, so that the next wgnetd, which
      // may connect as the last one dies, is accepted (next_controller) rather than refused.
      if (listen_fd >= 0 && fds[3].revents) {
        Fd other(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (other)
          log::warn("engine: refused a second controller (one is connected)");
        else
          ::poll(nullptr, 0, 100);  // a failing accept: no busy loop
      }
      continue;
    }
    ReceivedMessage in;
    try {
      in = channel.receive();
    } catch (const ChannelClosed&) {
      return End::kClosed;
    }
    const Request request = decode_request(in.message);
    if (std::holds_alternative<Export>(request)) {
      export_devices(channel, in.message.id);
      continue;
    }
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
    channel.send(out);
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
            Handed d;
            d.tun = r.tun;
            d.tun_fd = fds.at(0).get();
            auto tun = TunLinux::adopt(std::move(fds.at(0)), features, r.mtu, options_.batch);
            d.binds = std::make_shared<HandedBinds>();
            d.sockets = adopt_udp(d, r.udp, fds, 1);
            AddOptions add;
            add.config = r.config;
            add.binds = d.binds;
            add.uapi = false;
            engine_.add(r.name, std::move(tun), std::move(add));
            devices_[r.name] = std::move(d);
            return reply(Type::kAddDevice);
          } else if constexpr (std::is_same_v<T, Configure>) {
            auto it = devices_.find(r.name);
            if (it == devices_.end())
              return reply(Type::kConfigure, {-ENODEV, "no device " + r.name});
            std::optional<Sockets> offered;
            if (r.rebind) offered = adopt_udp(it->second, *r.rebind, fds, 0);
            engine_.apply(r.name, r.config);
            if (offered) it->second.sockets = *offered;
            return reply(Type::kConfigure);
          } else if constexpr (std::is_same_v<T, UapiSet>) {
            auto it = devices_.find(r.name);
            if (it == devices_.end())
              return reply(Type::kUapiSet, {-ENODEV, "no device " + r.name});
            std::optional<Sockets> offered;
            if (r.rebind) offered = adopt_udp(it->second, *r.rebind, fds, 0);
            const std::string_view body(reinterpret_cast<const char*>(r.body.data()),
                                        r.body.size());
            const int err = engine_.uapi_set(r.name, body);
            if (offered && err == 0) it->second.sockets = *offered;
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
            devices_.erase(r.name);
            if (!engine_.remove(r.name))
              return reply(Type::kRemoveDevice, {-ENODEV, "no device " + r.name});
            return reply(Type::kRemoveDevice);
          } else if constexpr (std::is_same_v<T, Export>) {
            return reply(Type::kExport, {-EINVAL, "Export is answered by run()"});
          } else if constexpr (std::is_same_v<T, Shutdown>) {
            for (const auto& name : engine_.names()) engine_.remove(name);
            devices_.clear();
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
