// Control messages to and from their bodies: one table of keys per type, read and written by
// Fields/FieldWriter on the UAPI codec's line reader and parsers.
#include "engine/control/messages.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <initializer_list>

#include "util/ifname.h"
#include "wgconf/uapi_codec.h"

namespace wgnet::engine::control {

namespace {

constexpr size_t kMaxKeys = 16;
constexpr size_t kMaxLine = 256;
constexpr uint64_t kMaxErrno = 4095;

// What a field's value may be.
enum class Kind : uint8_t { kName, kText, kFlag, kError, kPort, kMtu, kU32, kIndex };
struct Field {
  std::string_view key;
  Kind kind;
};
using Table = std::initializer_list<Field>;

uint64_t max_of(Kind k) {
  switch (k) {
    case Kind::kPort:
    case Kind::kMtu:
      return 0xffff;
    case Kind::kIndex:
      return INT32_MAX;
    default:
      return UINT32_MAX;
  }
}

// Text that prints on one line of a log (UTF-8 passes; control characters do not).
bool printable(char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; }
bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return printable(c); });
}

// The "key=value" lines of one message, checked against its type's table (`table` and `more`),
// and the body after them. Errors name the type and the key, never the value (a value may be a
// key's hex).
class Fields {
 public:
  Fields(const Message& m, Table table, bool has_body, Table more = {}) : what_(type_name(m.type)) {
    wg::uapi::LineReader lines(m.body);
    while (const auto line = lines.next()) {
      if (line->empty()) break;
      if (line->size() > kMaxLine) fail("a line over " + std::to_string(kMaxLine) + " bytes");
      const auto kv = wg::uapi::split_key_value(*line);
      if (!kv) fail("a line without '='");
      const Field* f = nullptr;
      for (const Table& keys : {table, more})
        for (const Field& t : keys)
          if (t.key == kv->key) f = &t;
      if (!f) fail("a key not of its table");
      if (find(f->key)) fail("key " + std::string(f->key) + " twice");
      if (values_.size() == kMaxKeys) fail("more than " + std::to_string(kMaxKeys) + " keys");
      check(*f, kv->value);
      values_.push_back({f->key, kv->value});
    }
    body_ = lines.rest();
    if (!has_body && !body_.empty()) fail("a body, which it has none of");
  }

  [[noreturn]] void fail(const std::string& why) const {
    throw ProtocolError("control: " + what_ + ": " + why);
  }
  bool has(std::string_view key) const { return find(key) != nullptr; }
  std::string_view text(std::string_view key) const { return need(key); }
  uint64_t number(std::string_view key) const {
    return *wg::uapi::parse_uint(need(key), UINT64_MAX);  // checked on the way in
  }
  bool flag(std::string_view key) const { return need(key) == "true"; }
  std::string_view body() const { return body_; }
  size_t size() const { return values_.size(); }

 private:
  struct Value {
    std::string_view key, value;
  };

  const std::string_view* find(std::string_view key) const {
    for (const auto& v : values_)
      if (v.key == key) return &v.value;
    return nullptr;
  }
  std::string_view need(std::string_view key) const {
    const auto* v = find(key);
    if (!v) fail("no " + std::string(key));
    return *v;
  }
  void check(const Field& f, std::string_view v) const {
    bool ok = true;
    switch (f.kind) {
      case Kind::kName:
        try {
          check_ifname(v);
        } catch (const InputError&) {
          ok = false;
        }
        ok = ok && printable(v);
        break;
      case Kind::kText:
        ok = printable(v);
        break;
      case Kind::kFlag:
        ok = v == "true" || v == "false";
        break;
      case Kind::kError:
        ok = v == "0" || (v.size() > 1 && v[0] == '-' && v[1] != '0' &&
                          wg::uapi::parse_uint(v.substr(1), kMaxErrno));
        break;
      default:
        ok = wg::uapi::parse_uint(v, max_of(f.kind)).has_value();
        break;
    }
    if (!ok) fail("bad " + std::string(f.key));
  }

  std::string what_;
  std::vector<Value> values_;
  std::string_view body_;
};

// Writes "key=value" lines; the body goes last, after a blank line.
class FieldWriter {
 public:
  explicit FieldWriter(Type type) : type_(type) {}
  void name(std::string_view key, std::string_view v) {
    try {
      check_ifname(v);
    } catch (const InputError&) {
      throw ProtocolError("control: " + type_name(type_) + ": bad " + std::string(key));
    }
    if (!printable(v))
      throw ProtocolError("control: " + type_name(type_) + ": bad " + std::string(key));
    line(key, v);
  }
  // Free text for the log: control characters become '?', cut to fit a line.
  void text(std::string_view key, std::string_view v) {
    std::string t(v.substr(0, kMaxLine - key.size() - 1));
    for (char& c : t)
      if (!printable(c)) c = '?';
    line(key, t);
  }
  void number(std::string_view key, uint64_t n) { line(key, std::to_string(n)); }
  void flag(std::string_view key, bool b) { line(key, b ? "true" : "false"); }
  void status(const Status& s) {
    if (s.error > 0 || s.error < -static_cast<int>(kMaxErrno))
      throw ProtocolError("control: " + type_name(type_) + ": bad errno");
    line("errno", std::to_string(s.error));
    if (!s.message.empty()) text("message", s.message);
  }
  // The message, with `body` (which may hold keys: the buffer is sized once, never reallocated).
  Message finish(uint32_t id, unsigned fds, std::optional<std::string_view> body = std::nullopt) {
    std::string out;
    if (body) {
      out.reserve(fields_.size() + 1 + body->size());
      out.append(fields_).append("\n").append(*body);
    } else {
      out = fields_;
    }
    return Message(type_, id, fds, std::move(out));
  }

 private:
  void line(std::string_view key, std::string_view v) {
    fields_.append(key).append("=").append(v).append("\n");
  }
  Type type_;
  std::string fields_;
};

std::string_view as_text(const crypto::SecretBytes& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
crypto::SecretBytes secret(std::string_view text) {
  return crypto::SecretBytes(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

// ---- shared pieces of several messages ----

void write_binding(FieldWriter& w, const UdpBinding& b) {
  w.number("port", b.port);
  w.flag("gro", b.gro);
  w.flag("gso", b.gso);
  w.flag("ipv6", b.ipv6);
}
UdpBinding read_binding(const Fields& f) {
  return {static_cast<uint16_t>(f.number("port")), f.flag("gro"), f.flag("gso"), f.flag("ipv6")};
}
std::optional<UdpBinding> read_rebind(const Fields& f) {
  const bool any = f.has("port") || f.has("gro") || f.has("gso") || f.has("ipv6");
  return any ? std::optional(read_binding(f)) : std::nullopt;
}
void write_tun(FieldWriter& w, const TunFlags& t) {
  w.flag("vnet_hdr", t.vnet_hdr);
  w.flag("tso", t.tso);
  w.flag("uso", t.uso);
}
TunFlags read_tun(const Fields& f) { return {f.flag("vnet_hdr"), f.flag("tso"), f.flag("uso")}; }
// A device handed over with its descriptors (AddDevice, ExportDevice): kDeviceKeys.
void write_device(FieldWriter& w, std::string_view name, uint32_t mtu, const TunFlags& tun,
                  const UdpBinding& udp) {
  w.name("name", name);
  w.number("mtu", mtu);
  write_tun(w, tun);
  write_binding(w, udp);
}

// A set body as the UAPI takes one: its lines, then the blank line that ends it, and nothing
// after (parse_set would ignore what follows; a peer that sends it is broken).
bool is_set_body(std::string_view body) {
  wg::uapi::LineReader lines(body);
  std::optional<std::string_view> line;
  while ((line = lines.next()) && !line->empty()) {
  }
  return line && lines.rest().empty();
}
std::string_view set_body(const Fields& f) {
  if (!is_set_body(f.body())) f.fail("set body not ended by one blank line");
  return f.body();
}

// A whole configuration as the set body of encode_set (without its "set=1" line).
Message with_config(FieldWriter& w, uint32_t id, unsigned fds, const wg::DeviceConfig& c) {
  std::string set = wg::uapi::encode_set(c);
  crypto::ScopedWipe wipe_set(set);
  return w.finish(id, fds, std::string_view(set).substr(6));
}
wg::DeviceConfig read_config(const Fields& f) {
  const auto req = wg::uapi::parse_set(set_body(f));
  if (req.error) f.fail("set body refused (errno " + std::to_string(req.error) + ")");
  auto c = wg::uapi::config_of(req.ops);
  if (!c) f.fail("set body is not a whole configuration");
  return std::move(*c);
}

Status read_status(const Fields& f) {
  const std::string_view e = f.text("errno");
  Status s;
  s.error = e == "0" ? 0 : -static_cast<int>(*wg::uapi::parse_uint(e.substr(1), kMaxErrno));
  if (f.has("message")) s.message = f.text("message");
  // A failed request answers nothing but why.
  if (s.error && f.size() != (f.has("message") ? 2u : 1u)) f.fail("fields beside an error");
  return s;
}

void expect_fds(const Message& m, unsigned fds) {
  if (m.fds != fds)
    throw ProtocolError("control: " + type_name(m.type) + " with " + std::to_string(m.fds) +
                        " descriptors, its fields want " + std::to_string(fds));
}

// ---- requests ----

struct RequestWriter {
  uint32_t id;
  Message operator()(const Hello& m) const {
    FieldWriter w(Type::kHello);
    w.number("protocol", m.protocol);
    w.text("build", m.build);
    return w.finish(id, 0);
  }
  Message operator()(const AddDevice& m) const {
    FieldWriter w(Type::kAddDevice);
    write_device(w, m.name, m.mtu, m.tun, m.udp);
    return with_config(w, id, 1 + m.udp.fds(), m.config);
  }
  Message operator()(const Configure& m) const {
    FieldWriter w(Type::kConfigure);
    w.name("name", m.name);
    if (m.rebind) write_binding(w, *m.rebind);
    return with_config(w, id, m.rebind ? m.rebind->fds() : 0, m.config);
  }
  Message operator()(const UapiSet& m) const {
    FieldWriter w(Type::kUapiSet);
    w.name("name", m.name);
    if (m.rebind) write_binding(w, *m.rebind);
    if (!is_set_body(as_text(m.body)))
      throw ProtocolError("control: UapiSet: set body not ended by one blank line");
    return w.finish(id, m.rebind ? m.rebind->fds() : 0, as_text(m.body));
  }
  Message operator()(const Get& m) const { return named(Type::kGet, m.name); }
  Message operator()(const Info& m) const { return named(Type::kInfo, m.name); }
  Message operator()(const SetMtu& m) const {
    FieldWriter w(Type::kSetMtu);
    w.name("name", m.name);
    w.number("mtu", m.mtu);
    return w.finish(id, 0);
  }
  Message operator()(const RemoveDevice& m) const { return named(Type::kRemoveDevice, m.name); }
  Message operator()(const Export&) const { return FieldWriter(Type::kExport).finish(id, 0); }
  Message operator()(const Shutdown&) const { return FieldWriter(Type::kShutdown).finish(id, 0); }
  Message operator()(const UnknownRequest& m) const {
    if (!is_request(m.type))
      throw ProtocolError("control: " + type_name(m.type) + " is not a request");
    return FieldWriter(m.type).finish(id, 0);
  }

  Message named(Type t, const std::string& name) const {
    FieldWriter w(t);
    w.name("name", name);
    return w.finish(id, 0);
  }
};

const Table kNameKeys = {{"name", Kind::kName}};
// A device handed over with its descriptors: its name, MTU, TUN and UDP features.
const Table kDeviceKeys = {{"name", Kind::kName}, {"mtu", Kind::kMtu},  {"vnet_hdr", Kind::kFlag},
                           {"tso", Kind::kFlag},  {"uso", Kind::kFlag}, {"port", Kind::kPort},
                           {"gro", Kind::kFlag},  {"gso", Kind::kFlag}, {"ipv6", Kind::kFlag}};
// A device's name and, when the message brings new UDP sockets, their binding.
const Table kRebindKeys = {{"name", Kind::kName},
                           {"port", Kind::kPort},
                           {"gro", Kind::kFlag},
                           {"gso", Kind::kFlag},
                           {"ipv6", Kind::kFlag}};

Request read_request(const Message& m) {
  switch (m.type) {
    case Type::kHello: {
      const Fields f(m, {{"protocol", Kind::kU32}, {"build", Kind::kText}}, false);
      return Hello{static_cast<uint32_t>(f.number("protocol")), std::string(f.text("build"))};
    }
    case Type::kAddDevice: {
      const Fields f(m, kDeviceKeys, true);
      AddDevice a{std::string(f.text("name")), static_cast<uint32_t>(f.number("mtu")), read_tun(f),
                  read_binding(f), read_config(f)};
      expect_fds(m, 1 + a.udp.fds());
      return a;
    }
    case Type::kConfigure: {
      const Fields f(m, kRebindKeys, true);
      Configure c{std::string(f.text("name")), read_rebind(f), read_config(f)};
      expect_fds(m, c.rebind ? c.rebind->fds() : 0);
      return c;
    }
    case Type::kUapiSet: {
      const Fields f(m, kRebindKeys, true);
      UapiSet u{std::string(f.text("name")), read_rebind(f), secret(set_body(f))};
      expect_fds(m, u.rebind ? u.rebind->fds() : 0);
      return u;
    }
    case Type::kGet:
      return Get{std::string(Fields(m, kNameKeys, false).text("name"))};
    case Type::kInfo:
      return Info{std::string(Fields(m, kNameKeys, false).text("name"))};
    case Type::kSetMtu: {
      const Fields f(m, {{"name", Kind::kName}, {"mtu", Kind::kMtu}}, false);
      return SetMtu{std::string(f.text("name")), static_cast<uint32_t>(f.number("mtu"))};
    }
    case Type::kRemoveDevice:
      return RemoveDevice{std::string(Fields(m, kNameKeys, false).text("name"))};
    case Type::kExport:
      (void)Fields(m, {}, false);
      return Export{};
    case Type::kShutdown:
      (void)Fields(m, {}, false);
      return Shutdown{};
    default:
      break;
  }
  if (!is_request(m.type))
    throw ProtocolError("control: " + type_name(m.type) + " is not a request");
  return UnknownRequest{m.type};
}

// ---- engine → wgnetd ----

const Table kStatusKeys = {{"errno", Kind::kError}, {"message", Kind::kText}};

bool valid_counter_name(std::string_view n) {
  return !n.empty() && n.size() <= 64 && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
  });
}

std::string counters_body(const std::vector<Counter>& counters) {
  if (counters.size() > kMaxCounters)
    throw ProtocolError("control: Info reply: more than " + std::to_string(kMaxCounters) +
                        " counters");
  std::string s;
  for (const auto& c : counters) {
    if (!valid_counter_name(c.name)) throw ProtocolError("control: Info reply: bad counter name");
    s.append(c.name).append("=").append(std::to_string(c.value)).append("\n");
  }
  return s;
}

std::vector<Counter> read_counters(const Fields& f) {
  std::vector<Counter> out;
  wg::uapi::LineReader lines(f.body());
  while (const auto line = lines.next()) {
    const auto kv = wg::uapi::split_key_value(*line);
    if (!kv || !valid_counter_name(kv->key)) f.fail("bad counter line");
    const auto n = wg::uapi::parse_uint(kv->value, UINT64_MAX);
    if (!n) f.fail("bad counter value");
    if (out.size() == kMaxCounters)
      f.fail("more than " + std::to_string(kMaxCounters) + " counters");
    for (const auto& c : out)
      if (c.name == kv->key) f.fail("a counter twice");
    out.push_back({std::string(kv->key), *n});
  }
  return out;
}

struct EngineWriter {
  uint32_t id;
  Message operator()(const Reply& m) const {
    if (!is_request(m.request))
      throw ProtocolError("control: a reply to " + type_name(m.request) + ", not a request");
    FieldWriter w(reply_to(m.request));
    w.status(m.status);
    return w.finish(id, 0);
  }
  Message operator()(const HelloReply& m) const {
    FieldWriter w(reply_to(Type::kHello));
    w.status(m.status);
    if (!m.status.error) {
      w.number("protocol", m.protocol);
      w.number("pid", m.pid);
      w.text("build", m.build);
      w.number("devices", m.devices);
    }
    return w.finish(id, 0);
  }
  Message operator()(const GetReply& m) const {
    FieldWriter w(reply_to(Type::kGet));
    w.status(m.status);
    if (m.status.error) return w.finish(id, 0);
    return w.finish(id, 0, as_text(m.uapi));
  }
  Message operator()(const InfoReply& m) const {
    FieldWriter w(reply_to(Type::kInfo));
    w.status(m.status);
    if (m.status.error) return w.finish(id, 0);
    w.name("ifname", m.ifname);
    w.number("ifindex", m.ifindex);
    w.number("mtu", m.mtu);
    w.number("listen_port", m.listen_port);
    w.flag("lost", m.lost);
    const std::string counters = counters_body(m.counters);
    return w.finish(id, 0, counters);
  }
  Message operator()(const ExportDevice& m) const {
    FieldWriter w(Type::kExportDevice);
    write_device(w, m.name, m.mtu, m.tun, m.udp);
    w.flag("lost", m.lost);
    return w.finish(id, 1 + m.udp.fds());
  }
  Message operator()(const ExportReply& m) const {
    FieldWriter w(reply_to(Type::kExport));
    w.status(m.status);
    if (!m.status.error) w.number("devices", m.devices);
    return w.finish(id, 0);
  }
  Message operator()(const DeviceLost& m) const {
    if (id != 0) throw ProtocolError("control: DeviceLost: an event with a request's id");
    FieldWriter w(Type::kDeviceLost);
    w.name("name", m.name);
    w.text("why", m.why);
    return w.finish(id, 0);
  }
};

FromEngine read_from_engine(const Message& m) {
  switch (m.type) {
    case Type::kExportDevice: {
      const Fields f(m, kDeviceKeys, false, {{"lost", Kind::kFlag}});
      ExportDevice e{std::string(f.text("name")), static_cast<uint32_t>(f.number("mtu")),
                     read_tun(f), read_binding(f), f.flag("lost")};
      expect_fds(m, 1 + e.udp.fds());
      return e;
    }
    case Type::kDeviceLost: {
      if (m.id != 0) throw ProtocolError("control: DeviceLost: an event with a request's id");
      const Fields f(m, {{"name", Kind::kName}, {"why", Kind::kText}}, false);
      return DeviceLost{std::string(f.text("name")), std::string(f.text("why"))};
    }
    default:
      break;
  }
  const Type request = static_cast<Type>(static_cast<uint16_t>(m.type) & ~kReplyBit);
  if (!is_reply(m.type) || !is_request(request))
    throw ProtocolError("control: " + type_name(m.type) + " is not from the engine");
  switch (request) {
    case Type::kHello: {
      const Fields f(m, kStatusKeys, false,
                     {{"protocol", Kind::kU32},
                      {"pid", Kind::kU32},
                      {"build", Kind::kText},
                      {"devices", Kind::kU32}});
      HelloReply r{read_status(f), kProtocol, 0, {}, 0};
      if (r.status.error) return r;
      r.protocol = static_cast<uint32_t>(f.number("protocol"));
      r.pid = static_cast<uint32_t>(f.number("pid"));
      r.build = f.text("build");
      r.devices = static_cast<uint32_t>(f.number("devices"));
      return r;
    }
    case Type::kGet: {
      const Fields f(m, kStatusKeys, true);
      GetReply r{read_status(f), {}};
      if (r.status.error && !f.body().empty()) f.fail("a body beside an error");
      r.uapi = secret(f.body());
      return r;
    }
    case Type::kInfo: {
      const Fields f(m, kStatusKeys, true,
                     {{"ifname", Kind::kName},
                      {"ifindex", Kind::kIndex},
                      {"mtu", Kind::kMtu},
                      {"listen_port", Kind::kPort},
                      {"lost", Kind::kFlag}});
      InfoReply r{read_status(f), {}, 0, 0, 0, false, {}};
      if (r.status.error) {
        if (!f.body().empty()) f.fail("a body beside an error");
        return r;
      }
      r.ifname = f.text("ifname");
      r.ifindex = static_cast<uint32_t>(f.number("ifindex"));
      r.mtu = static_cast<uint32_t>(f.number("mtu"));
      r.listen_port = static_cast<uint16_t>(f.number("listen_port"));
      r.lost = f.flag("lost");
      r.counters = read_counters(f);
      return r;
    }
    case Type::kExport: {
      const Fields f(m, kStatusKeys, false, {{"devices", Kind::kU32}});
      ExportReply r{read_status(f), 0};
      if (!r.status.error) r.devices = static_cast<uint32_t>(f.number("devices"));
      return r;
    }
    default: {
      const Fields f(m, kStatusKeys, false);
      return Reply{request, read_status(f)};
    }
  }
}

}  // namespace

Type type_of(const Request& request) {
  // In the variant's order.
  constexpr Type kTypes[] = {Type::kHello,  Type::kAddDevice, Type::kConfigure, Type::kUapiSet,
                             Type::kGet,    Type::kInfo,      Type::kSetMtu,    Type::kRemoveDevice,
                             Type::kExport, Type::kShutdown};
  static_assert(std::variant_size_v<Request> == std::size(kTypes) + 1);
  if (const auto* unknown = std::get_if<UnknownRequest>(&request)) return unknown->type;
  return kTypes[request.index()];
}

Reply answer_unknown(const UnknownRequest& request) {
  return {request.type, {-ENOSYS, "unknown request " + type_name(request.type)}};
}

Message encode_request(const Request& request, uint32_t id) {
  return std::visit(RequestWriter{id}, request);
}

Message encode_from_engine(const FromEngine& message, uint32_t id) {
  return std::visit(EngineWriter{id}, message);
}

Request decode_request(const Message& message) {
  Request r = read_request(message);
  if (!std::holds_alternative<AddDevice>(r) && !std::holds_alternative<Configure>(r) &&
      !std::holds_alternative<UapiSet>(r))
    expect_fds(message, 0);
  return r;
}

FromEngine decode_from_engine(const Message& message) {
  FromEngine m = read_from_engine(message);
  if (!std::holds_alternative<ExportDevice>(m)) expect_fds(message, 0);
  return m;
}

}  // namespace wgnet::engine::control
