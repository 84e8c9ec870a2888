// Fuzzes the wgnet.peers-file parser (driver::parse_peers_file). Checks: only InputError, errors
// name the file and never quote a preshared key, and what parses prints back (wg-quick style)
// into text that parses to the same peers.
#include <cctype>

#include "crypto/encoding.h"
#include "driver/peers_file.h"
#include "fuzz_util.h"

using namespace wgnet;

namespace {

const std::string kOrigin = "wgnet.peers-file 'fuzz'";

std::string print(const std::vector<driver::FilePeer>& peers) {
  std::string s;
  for (const auto& p : peers) {
    s += "[Peer]\nPublicKey = " + crypto::key_to_base64(p.config.public_key) + "\n";
    if (p.config.preshared_key)
      s += "PresharedKey = " + crypto::key_to_base64(*p.config.preshared_key) + "\n";
    if (p.endpoint) s += "Endpoint = " + p.endpoint->str() + "\n";
    s += "AllowedIPs = ";
    for (size_t i = 0; i < p.config.allowed_ips.size(); i++)
      s += (i ? ", " : "") + p.config.allowed_ips[i].str();
    s += "\nPersistentKeepalive = " + std::to_string(p.config.persistent_keepalive) + "\n";
  }
  return s;
}

bool same(const driver::FilePeer& a, const driver::FilePeer& b) {
  const bool endpoints = a.endpoint.has_value() == b.endpoint.has_value() &&
                         (!a.endpoint || (a.endpoint->host == b.endpoint->host &&
                                          a.endpoint->port == b.endpoint->port));
  return endpoints && a.config.public_key == b.config.public_key &&
         a.config.preshared_key == b.config.preshared_key &&
         a.config.allowed_ips == b.config.allowed_ips &&
         a.config.persistent_keepalive == b.config.persistent_keepalive;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The values of PresharedKey settings (read as the parser reads lines) that occur once in `text`.
std::vector<std::string> unique_psks(std::string_view text) {
  std::vector<std::string> out;
  fuzz::Reader in(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  while (!in.empty()) {
    std::string_view line = in.until('\n');
    line = line.substr(0, line.find('#'));
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key(trim(line.substr(0, eq)));
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::string_view v = trim(line.substr(eq + 1));
    if (key == "presharedkey" && text.find(v) == text.rfind(v)) out.emplace_back(v);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(fuzz::as_text(data, size));
  std::vector<driver::FilePeer> peers;
  std::string error;
  try {
    peers = driver::parse_peers_file(text, kOrigin);
  } catch (const InputError& e) {
    error = e.what();
  }
  if (!error.empty()) {
    FUZZ_CHECK(error.rfind(kOrigin, 0) == 0);
    for (const auto& psk : unique_psks(text)) FUZZ_CHECK(!fuzz::leaks(error, psk));
    return 0;
  }
  FUZZ_CHECK(!peers.empty());
  for (const auto& p : peers) {
    FUZZ_CHECK(!p.config.allowed_ips.empty());
    for (const Cidr& c : p.config.allowed_ips) FUZZ_CHECK(c.is_network());
  }
  const auto again = driver::parse_peers_file(print(peers), kOrigin);  // must not throw
  FUZZ_CHECK(again.size() == peers.size());
  for (size_t i = 0; i < peers.size(); i++) FUZZ_CHECK(same(peers[i], again[i]));
  return 0;
}
