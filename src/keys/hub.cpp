// Peers are derived and formatted in chunks on all cores, then written in address order.
#include "keys/hub.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "util/error.h"

namespace wgnet::keys {

namespace {

using U128 = unsigned __int128;

U128 to_int(const IpAddress& a) {
  U128 v = 0;
  for (uint8_t b : a.bytes()) v = v << 8 | b;
  return v;
}

IpAddress from_int(U128 v, bool v4) {
  std::array<uint8_t, 16> b{};
  size_t n = v4 ? 4 : 16;
  for (size_t i = 0; i < n; i++) b[n - 1 - i] = static_cast<uint8_t>(v >> (8 * i));
  return IpAddress::from_bytes(std::span<const uint8_t>(b.data(), n));
}

}  // namespace

std::pair<IpAddress, IpAddress> parse_range(std::string_view text, std::string_view what) {
  auto dash = text.find('-');
  std::optional<IpAddress> a, b;
  if (dash != std::string_view::npos) {
    a = IpAddress::parse(text.substr(0, dash));
    b = IpAddress::parse(text.substr(dash + 1));
  }
  if (!a || !b || a->is_v4() != b->is_v4())
    throw InputError(std::string(what) + ": '" + std::string(text) +
                     "' is not a range; expected FIRST-LAST, two addresses of one family "
                     "(e.g. 10.0.42.1-10.0.42.100)");
  if (*b < *a)
    throw InputError(std::string(what) + ": '" + std::string(text) +
                     "' ends before it starts; expected FIRST <= LAST");
  return {*a, *b};
}

std::vector<IpAddress> enumerate_addresses(const AddressRange& r) {
  const Cidr& net = r.subnet;
  const bool v4 = net.address().is_v4();
  const int host_bits = net.address().bits() - net.prefix();
  constexpr U128 kMaxAddresses = U128{1} << 20;
  // A large subnet (an IPv6 /64, as Docker allocates them) is fine with a range inside it: the
  // limit is on the addresses listed.
  if (!r.first && host_bits > 20)
    throw InputError(r.subnet_what + ": " + net.str() + " holds 2^" + std::to_string(host_bits) +
                     " addresses; expected at most 2^20 (a /12 for IPv4, a /108 for IPv6) — use " +
                     r.range_what + " or a smaller subnet");
  const U128 lo_net = to_int(net.network());
  const U128 hi_net = lo_net + (host_bits >= 128 ? ~U128{0} : (U128{1} << host_bits) - 1);
  U128 lo = lo_net, hi = hi_net;
  if (r.first) {
    if (!net.contains(*r.first) || !net.contains(*r.last))
      throw InputError(r.range_what + ": " + r.first->str() + "-" + r.last->str() +
                       " is not inside " + net.network().str() + "/" +
                       std::to_string(net.prefix()) + "; expected addresses of the subnet");
    lo = to_int(*r.first);
    hi = to_int(*r.last);
  }
  if (lo > hi)
    throw InputError(r.range_what + ": " + r.first->str() + "-" + r.last->str() +
                     " ends before it starts; expected FIRST <= LAST");
  if (hi - lo >= kMaxAddresses)
    throw InputError(r.range_what + ": " + r.first->str() + "-" + r.last->str() +
                     " holds more than 2^20 addresses; expected at most 2^20");
  std::vector<IpAddress> out;
  out.reserve(static_cast<size_t>(hi - lo + 1));
  const bool skip_edges = r.skip_network_and_broadcast && host_bits >= 2;
  // Counted, not compared: at the top of the address space v + 1 wraps to 0.
  for (U128 v = lo, left = hi - lo + 1; left > 0; v++, left--) {
    if (skip_edges && (v == lo_net || (v4 && v == hi_net))) continue;
    IpAddress a = from_int(v, v4);
    if (std::find(r.skip.begin(), r.skip.end(), a) != r.skip.end()) continue;
    out.push_back(a);
  }
  return out;
}

HubFormat parse_hub_format(std::string_view text, std::string_view what) {
  if (text == "wg-quick") return HubFormat::kWgQuick;
  if (text == "wg") return HubFormat::kWg;
  if (text == "json") return HubFormat::kJson;
  throw InputError(std::string(what) + ": unknown format '" + std::string(text) +
                   "'; expected wg-quick, wg or json");
}

namespace {

void format_peer(std::string& s, const Deriver& d, const IpAddress& a, bool with_psk,
                 HubFormat format, bool first) {
  crypto::Key pub = d.public_key(a);
  std::optional<crypto::Key> psk;
  if (with_psk) psk = d.preshared_key(a);
  const char* host = a.is_v4() ? "/32" : "/128";
  if (format == HubFormat::kJson) {
    s += first ? "  {\"address\": \"" : ",\n  {\"address\": \"";
    s += a.str();
    s += "\", \"public_key\": \"";
    s += crypto::key_to_base64(pub);
    if (psk) {
      s += "\", \"preshared_key\": \"";
      s += crypto::key_to_base64(*psk);
    }
    s += "\"}";
    return;
  }
  s += "\n[Peer]\nPublicKey = ";
  s += crypto::key_to_base64(pub);
  if (psk) {
    s += "\nPresharedKey = ";
    std::string b64 = crypto::key_to_base64(*psk);
    s += b64;
    crypto::wipe(b64.data(), b64.size());
  }
  s += "\nAllowedIPs = ";
  s += a.str();
  s += host;
  s += "\n";
}

// Runs fn(chunk index, begin, end) over [0, n) in chunks of `chunk` items on up to `threads`
// threads (0 = all cores); the first exception stops the others and is rethrown here.
void for_each_chunk(size_t n, size_t chunk, unsigned threads,
                    const std::function<void(size_t, size_t, size_t)>& fn) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  const size_t nchunks = (n + chunk - 1) / chunk;
  std::atomic<size_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  auto work = [&] {
    try {
      for (size_t c; (c = next.fetch_add(1)) < nchunks;)
        fn(c, c * chunk, std::min(n, (c + 1) * chunk));
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      next = nchunks;
    }
  };
  std::vector<std::thread> pool;
  unsigned used = static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(nchunks, 1)));
  for (unsigned t = 1; t < used; t++) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

std::vector<HubPeer> derive_hub_peers(const Deriver& deriver,
                                      const std::vector<IpAddress>& addresses, bool with_psk,
                                      unsigned threads) {
  std::vector<HubPeer> peers(addresses.size());
  for_each_chunk(addresses.size(), 512, threads, [&](size_t, size_t begin, size_t end) {
    for (size_t i = begin; i < end; i++) {
      peers[i].address = addresses[i];
      peers[i].public_key = deriver.public_key(addresses[i]);
      if (with_psk) peers[i].preshared_key = deriver.preshared_key(addresses[i]);
    }
  });
  return peers;
}

void write_hub_config(std::ostream& out, const Deriver& deriver,
                      const std::vector<IpAddress>& addresses, bool with_psk, HubFormat format,
                      const HubInterface& iface, unsigned threads) {
  const bool address_line = iface.address && format == HubFormat::kWgQuick;
  if (format != HubFormat::kJson && (iface.private_key || address_line || iface.listen_port)) {
    out << "[Interface]\n";
    if (address_line) out << "Address = " << iface.address->str() << "\n";
    if (iface.listen_port) out << "ListenPort = " << *iface.listen_port << "\n";
    if (iface.private_key) {
      std::string b64 = crypto::key_to_base64(*iface.private_key);
      out << "PrivateKey = " << b64 << "\n";
      crypto::wipe(b64.data(), b64.size());
    }
  }
  constexpr size_t kChunk = 512;
  std::vector<std::string> chunks((addresses.size() + kChunk - 1) / kChunk);
  for_each_chunk(addresses.size(), kChunk, threads, [&](size_t c, size_t begin, size_t end) {
    std::string& s = chunks[c];
    s.reserve(kChunk * (with_psk ? 160 : 110));
    for (size_t i = begin; i < end; i++)
      format_peer(s, deriver, addresses[i], with_psk, format, i == 0);
  });
  if (format == HubFormat::kJson) out << "[\n";
  for (auto& s : chunks) {
    out << s;
    if (with_psk) crypto::wipe(s.data(), s.size());
  }
  if (format == HubFormat::kJson) out << (addresses.empty() ? "]\n" : "\n]\n");
}

}  // namespace wgnet::keys
