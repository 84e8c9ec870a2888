// A deliberately small wg-quick parser: only the keys a [Peer] of wgnet needs.
#include "driver/peers_file.h"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "crypto/encoding.h"
#include "util/error.h"

namespace wgnet::driver {

namespace {

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

bool valid_hostname(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  return std::all_of(h.begin(), h.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
  });
}

}  // namespace

std::optional<std::vector<Cidr>> parse_cidr_list(std::string_view text, std::string& bad) {
  std::vector<Cidr> out;
  std::stringstream list{std::string(text)};
  for (std::string item; std::getline(list, item, ',');) {
    auto c = Cidr::parse(trim(item));
    if (!c) {
      bad = trim(item);
      return std::nullopt;
    }
    out.push_back(Cidr(c->network(), c->prefix()));
  }
  return out;
}

std::optional<HubEndpoint> parse_hub_endpoint(std::string_view text) {
  auto hp = split_host_port(text);
  if (!hp) return std::nullopt;
  auto addr = IpAddress::parse(hp->host);
  if (hp->bracketed ? !(addr && addr->is_v6()) : !(addr || valid_hostname(hp->host)))
    return std::nullopt;
  return HubEndpoint{std::string(hp->host), hp->port};
}

std::vector<FilePeer> parse_peers_file(const std::string& text, const std::string& origin) {
  std::vector<FilePeer> peers;
  std::istringstream in(text);
  std::string raw;
  int lineno = 0;
  bool in_peer = false;
  bool has_key = false;
  auto fail = [&](const std::string& what) {
    throw InputError(origin + " line " + std::to_string(lineno) + ": " + what);
  };
  auto parse_key = [&](const std::string& value, const char* key) {
    try {
      return crypto::key_from_base64(value, key);
    } catch (const InputError& e) {
      fail(e.what());
      throw;  // not reached: fail throws
    }
  };
  auto finish = [&] {
    if (!in_peer) return;
    if (!has_key) fail("a [Peer] without PublicKey; expected PublicKey = <base64 key>");
    if (peers.back().config.allowed_ips.empty())
      fail("a [Peer] without AllowedIPs; expected AllowedIPs = CIDR[, CIDR...]");
  };
  while (std::getline(in, raw)) {
    lineno++;
    std::string line = trim(raw.substr(0, raw.find('#')));
    if (line.empty()) continue;
    if (line.front() == '[') {
      finish();
      if (line != "[Peer]") fail("a section other than [Peer]; expected only [Peer] sections");
      peers.emplace_back();
      in_peer = true;
      has_key = false;
      continue;
    }
    if (!in_peer) fail("a setting outside a [Peer] section; expected '[Peer]' first");
    auto eq = line.find('=');
    if (eq == std::string::npos) fail("expected 'Key = Value'");
    std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    std::string lower = key;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    auto& p = peers.back();
    if (lower == "publickey") {
      p.config.public_key = parse_key(value, "PublicKey");
      has_key = true;
    } else if (lower == "presharedkey") {
      p.config.preshared_key = parse_key(value, "PresharedKey");
    } else if (lower == "endpoint") {
      p.endpoint = parse_hub_endpoint(value);
      if (!p.endpoint)
        fail("Endpoint '" + value + "' is malformed; expected HOST:PORT or [IPv6]:PORT");
    } else if (lower == "allowedips") {
      std::string bad;
      auto cidrs = parse_cidr_list(value, bad);
      if (!cidrs) fail("AllowedIPs entry '" + bad + "' is not a CIDR");
      auto& ips = p.config.allowed_ips;
      ips.insert(ips.end(), cidrs->begin(), cidrs->end());
    } else if (lower == "persistentkeepalive") {
      unsigned n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value == "off")
        n = 0;
      else if (ec != std::errc() || ptr != value.data() + value.size() || n > 65535)
        fail("PersistentKeepalive '" + value + "' is not 0-65535 or 'off'");
      p.config.persistent_keepalive = static_cast<uint16_t>(n);
    } else {
      // The key is not quoted: a stray line could be secret (a key pasted without its name).
      fail(
          "unknown setting; expected PublicKey, PresharedKey, Endpoint, AllowedIPs or "
          "PersistentKeepalive");
    }
  }
  finish();
  if (peers.empty()) throw InputError(origin + ": no [Peer] section; expected at least one");
  return peers;
}

}  // namespace wgnet::driver
