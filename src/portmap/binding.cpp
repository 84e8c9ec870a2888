// Published ports as text: describe() for people, encode()/decode() for the state database, and
// validate() for what a remote driver cannot publish.
#include "portmap/binding.h"

#include <charconv>

#include "util/error.h"

namespace wgnet::portmap {

namespace {

std::string host_text(const Binding& b) {
  if (!b.host_ip) return "*";
  return b.host_ip->is_v6() ? "[" + b.host_ip->str() + "]" : b.host_ip->str();
}

std::string ports_text(uint16_t first, uint16_t last) {
  return last == first ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
}

[[noreturn]] void refuse(const Binding& b, const std::string& why) {
  throw InputError("cannot publish " + describe(b) + ": " + why);
}

// A database row is not trusted to be short or printable; the log escapes what is not printable.
[[noreturn]] void malformed(std::string_view item, const std::string& why) {
  constexpr size_t kShown = 80;
  std::string shown(item.substr(0, kShown));
  if (item.size() > kShown) shown += "...";
  throw InputError("malformed published ports \"" + shown + "\" in the state database: " + why);
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// Only what std::to_string writes: digits, no sign, no leading zero, at most 65535.
std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  for (char c : text)
    if (c < '0' || c > '9') return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

Binding decode_one(std::string_view item) {
  const auto fields = split(item, ' ');
  if (fields.size() != 5) malformed(item, "expected 5 fields separated by single spaces");
  Binding b;
  if (fields[0] == "tcp") {
    b.proto = Proto::kTcp;
  } else if (fields[0] == "udp") {
    b.proto = Proto::kUdp;
  } else {
    malformed(item, "the protocol is neither tcp nor udp");
  }
  if (fields[1] != "*") {
    // Only the form encode() writes (inet_ntop's), so one binding has one text.
    b.host_ip = IpAddress::parse(fields[1]);
    if (!b.host_ip || b.host_ip->str() != fields[1])
      malformed(item, "the host address is neither '*' nor an IP address in canonical form");
  }
  const auto host_port = parse_port(fields[2]);
  const auto host_port_end = parse_port(fields[3]);
  const auto container_port = parse_port(fields[4]);
  if (!host_port || !host_port_end || !container_port)
    malformed(item, "a port is not a decimal number 0-65535");
  b.host_port = *host_port;
  b.host_port_end = *host_port_end;
  b.container_port = *container_port;
  return b;
}

}  // namespace

const char* proto_name(Proto p) {
  switch (p) {
    case Proto::kTcp:
      return "tcp";
    case Proto::kUdp:
      return "udp";
  }
  return "?";
}

std::string describe(const Binding& b) {
  return host_text(b) + ":" + ports_text(b.host_port, b.host_port_end) + "->" +
         std::to_string(b.container_port) + "/" + proto_name(b.proto);
}

void validate(const Binding& b) {
  if (b.proto != Proto::kTcp && b.proto != Proto::kUdp)
    refuse(b, "wgnet publishes tcp and udp ports only");
  if (b.host_port == 0)
    refuse(b,
           "wgnet cannot publish a random host port (Docker's -p CONTAINERPORT or -P): give one, "
           "as -p HOSTPORT:CONTAINERPORT");
  if (b.host_port_end < b.host_port)
    refuse(b, "the host port range ends before it starts: give it as -p LOW-HIGH:CONTAINERPORT");
  if (b.container_port == 0) refuse(b, "the container port must be 1-65535");
  if (b.host_ip && !b.host_ip->is_v4() && !b.host_ip->is_v6())
    refuse(b, "the host address is not an IP address: give one, or none for every address");
}

std::string encode(const std::vector<Binding>& bindings) {
  std::string text;
  for (const auto& b : bindings) {
    if (!text.empty()) text += ';';
    text += proto_name(b.proto);
    text += ' ';
    text += b.host_ip ? b.host_ip->str() : "*";
    text += ' ' + std::to_string(b.host_port) + ' ' + std::to_string(b.host_port_end) + ' ' +
            std::to_string(b.container_port);
  }
  return text;
}

std::vector<Binding> decode(std::string_view text) {
  std::vector<Binding> bindings;
  if (text.empty()) return bindings;
  for (auto item : split(text, ';')) {
    if (item.empty()) malformed(text, "an empty binding (a stray ';')");
    bindings.push_back(decode_one(item));
    // A row is written only after validate(): one it refuses is damage, reported here rather
    // than when the relay tries to listen.
    try {
      validate(bindings.back());
    } catch (const InputError& e) {
      malformed(item, e.what());
    }
  }
  return bindings;
}

}  // namespace wgnet::portmap
