// Fuzzes `wgnet hub config`'s core (keys/hub.h): parse_range, enumerate_addresses listing at most
// 2^12 addresses (a subnet, or a range in a subnet of any size; more must be refused above 2^20
// and are skipped between, to keep runs fast), and write_hub_config for the first few. Input: lines SUBNET, RANGE, SKIP, FORMAT,
// FLAGS ('p' psk, 'e' keep network/broadcast, 's' sha3, 'i' an [Interface]). Checks: addresses in
// order, inside subnet and range, skips honoured; the config parses back to the same peers.
#include <nlohmann/json.hpp>
#include <sstream>

#include "crypto/encoding.h"
#include "driver/peers_file.h"
#include "fuzz_util.h"
#include "keys/hub.h"

using namespace wgnet;

namespace {
// LAST - FIRST + 1, as a number (both of one family, FIRST <= LAST).
unsigned __int128 span(const IpAddress& first, const IpAddress& last) {
  unsigned __int128 a = 0, b = 0;
  for (uint8_t x : first.bytes()) a = a << 8 | x;
  for (uint8_t x : last.bytes()) b = b << 8 | x;
  return b - a + 1;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  const auto subnet = Cidr::parse(in.until('\n'));
  const std::string_view range_text = in.until('\n');
  const std::string_view skip_text = in.until('\n');
  const std::string_view format_text = in.until('\n');
  const std::string_view flags = in.until('\n');
  auto flag = [&](char c) { return flags.find(c) != std::string_view::npos; };

  keys::AddressRange r;
  if (!range_text.empty()) {
    std::pair<IpAddress, IpAddress> range;
    if (!fuzz::accepted([&] { range = keys::parse_range(range_text, "--range"); })) return 0;
    FUZZ_CHECK(range.first.is_v4() == range.second.is_v4() && !(range.second < range.first));
    r.first = range.first;
    r.last = range.second;
  }
  if (!subnet) return 0;
  r.subnet = *subnet;
  if (auto skip = IpAddress::parse(skip_text)) r.skip.push_back(*skip);
  r.skip_network_and_broadcast = !flag('e');
  const int host_bits = subnet->address().bits() - subnet->prefix();
  // How many addresses would be listed: the range's, else the subnet's. Between 2^12 and 2^20
  // valid, but slow to fuzz.
  const unsigned __int128 listed =
      r.first ? span(*r.first, *r.last) : (host_bits >= 127 ? ~(unsigned __int128){0}
                                                             : (unsigned __int128){1} << host_bits);
  if (listed > (1u << 12) && listed <= (1u << 20)) return 0;

  std::vector<IpAddress> addrs;
  if (!fuzz::accepted([&] { addrs = keys::enumerate_addresses(r); })) return 0;
  // Refused above 2^20 addresses: a whole subnet that large, or a range (which may lie in a
  // larger subnet, as in the /64s Docker gives IPv6 networks).
  FUZZ_CHECK(listed <= (1u << 20));
  FUZZ_CHECK(addrs.size() <= listed);
  for (size_t i = 0; i < addrs.size(); i++) {
    const IpAddress& a = addrs[i];
    FUZZ_CHECK(subnet->contains(a));
    if (i) FUZZ_CHECK(addrs[i - 1] < a);
    if (r.first) FUZZ_CHECK(!(a < *r.first) && !(*r.last < a));
    for (const auto& s : r.skip) FUZZ_CHECK(a != s);
    if (r.skip_network_and_broadcast && host_bits >= 2) FUZZ_CHECK(a != subnet->network());
  }

  // The config of the first few addresses (each costs a key derivation).
  addrs.resize(std::min<size_t>(addrs.size(), 8));
  keys::HubFormat format;
  if (!fuzz::accepted([&] { format = keys::parse_hub_format(format_text, "--format"); })) return 0;
  keys::Deriver deriver(flag('s') ? keys::Kdf::kSha3 : keys::Kdf::kHkdf,
                        crypto::SecretBytes(std::vector<uint8_t>(32, 7)), {1, 2, 3});
  keys::HubInterface iface;
  if (flag('i')) {
    iface.private_key =
        crypto::key_from_base64("uJerGr6ehDLKKbl8Rxr+6FMirhk69WC9k3opHMFJmlU=", "k");
    iface.listen_port = 51820;
    iface.address = Cidr(subnet->network(), subnet->prefix());
  }
  std::ostringstream out;
  keys::write_hub_config(out, deriver, addrs, flag('p'), format, iface, 1);
  const std::string config = out.str();

  if (format == keys::HubFormat::kJson) {
    const auto j = nlohmann::json::parse(config);
    FUZZ_CHECK(j.is_array() && j.size() == addrs.size());
    for (size_t i = 0; i < addrs.size(); i++) {
      FUZZ_CHECK(j[i]["address"] == addrs[i].str());
      FUZZ_CHECK(j[i]["public_key"] == crypto::key_to_base64(deriver.public_key(addrs[i])));
      FUZZ_CHECK(j[i].contains("preshared_key") == flag('p'));
    }
    return 0;
  }
  if (flag('i')) {
    FUZZ_CHECK(config.rfind("[Interface]\n", 0) == 0);
    return 0;
  }
  if (addrs.empty()) {
    FUZZ_CHECK(config.empty());
    return 0;
  }
  const auto peers = driver::parse_peers_file(config, "hub config");  // must parse
  FUZZ_CHECK(peers.size() == addrs.size());
  for (size_t i = 0; i < addrs.size(); i++) {
    FUZZ_CHECK(peers[i].config.public_key == deriver.public_key(addrs[i]));
    FUZZ_CHECK(peers[i].config.allowed_ips == std::vector<Cidr>{Cidr(addrs[i], addrs[i].bits())});
    FUZZ_CHECK(peers[i].config.preshared_key.has_value() == flag('p'));
  }
  return 0;
}
