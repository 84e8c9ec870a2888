// One table of known options; aliases map onto it, and everything is checked before anything is
// created so a bad network is refused whole.
#include "driver/options.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "crypto/encoding.h"
#include "driver/peers_file.h"
#include "keys/seed.h"
#include "util/error.h"
#include "util/log.h"
#include "wg/backends.h"

namespace wgnet::driver {

namespace {

const std::map<std::string, std::string> kAliases = {
    {"io.bestov.wg.peer", "wgnet.endpoint"},
    {"io.bestov.wg.peerkey", "wgnet.endpoint-key"},
    {"io.bestov.wg.seed", "wgnet.seed"},
    {"io.bestov.wg.additional", "wgnet.additional"},
};

const std::set<std::string> kKnown = {
    "wgnet.endpoint",    "wgnet.endpoint-key", "wgnet.seed-file",  "wgnet.seed",
    "wgnet.additional",  "wgnet.kdf",          "wgnet.keepalive",  "wgnet.mtu",
    "wgnet.allowed-ips", "wgnet.psk",          "wgnet.peers-file", "wgnet.backend",
};

constexpr const char* kDockerMtu = "com.docker.network.driver.mtu";
// The article's key script defaults "additional" to base64("bestov.io").
constexpr const char* kArticleAdditional = "YmVzdG92Lmlv";

std::string known_list() {
  std::string s;
  for (const auto& k : kKnown) s += (s.empty() ? "" : ", ") + k;
  return s;
}

template <typename T>
T parse_uint(const std::string& name, const std::string& v, T lo, T hi, const std::string& expect) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() || n < lo || n > hi)
    throw InputError(name + ": '" + v + "' is not valid; expected " + expect);
  return static_cast<T>(n);
}

}  // namespace

std::string HubEndpoint::str() const {
  return host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                             : host + ":" + std::to_string(port);
}

NetworkOptions parse_network_options(const std::map<std::string, std::string>& generic,
                                     const OptionContext& ctx) {
  // Normalise: aliases onto canonical names; remember who said what for error messages.
  std::map<std::string, std::pair<std::string, std::string>> opts;  // canonical -> (given, value)
  NetworkOptions o;
  for (const auto& [key, value] : generic) {
    std::string canonical = key;
    if (auto a = kAliases.find(key); a != kAliases.end()) {
      canonical = a->second;
      o.article_names = true;
    } else if (key.rfind("io.bestov.wg.", 0) == 0) {
      throw InputError(key +
                       ": unknown option; the article's options are io.bestov.wg.peer, "
                       "io.bestov.wg.peerkey, io.bestov.wg.seed, io.bestov.wg.additional");
    } else if (key.rfind("wgnet.", 0) == 0) {
      if (!kKnown.count(key))
        throw InputError(key + ": unknown option; expected one of " + known_list());
    } else {
      continue;  // Docker's own options
    }
    if (auto prev = opts.find(canonical); prev != opts.end())
      throw InputError(key + ": given twice (also as " + prev->second.first +
                       "); expected one of them");
    opts[canonical] = {key, value};
  }
  auto has = [&](const char* k) { return opts.count(k) > 0; };
  auto name = [&](const char* k) { return opts.at(k).first; };
  auto value = [&](const char* k) -> const std::string& { return opts.at(k).second; };

  if (o.article_names) o.kdf = keys::Kdf::kSha3;
  if (has("wgnet.kdf")) o.kdf = keys::parse_kdf(value("wgnet.kdf"), "wgnet.kdf");

  if (has("wgnet.endpoint")) {
    o.endpoint = parse_hub_endpoint(value("wgnet.endpoint"));
    if (!o.endpoint)
      throw InputError(name("wgnet.endpoint") + ": '" + value("wgnet.endpoint") +
                       "' is not valid; expected HOST:PORT, [IPv6]:PORT or DNSNAME:PORT");
    if (!has("wgnet.endpoint-key"))
      throw InputError(name("wgnet.endpoint") +
                       " needs wgnet.endpoint-key (or io.bestov.wg.peerkey): "
                       "the hub's public key, base64");
    o.endpoint_key =
        crypto::key_from_base64(value("wgnet.endpoint-key"), name("wgnet.endpoint-key"));
  } else if (has("wgnet.endpoint-key")) {
    throw InputError(name("wgnet.endpoint-key") +
                     " is given without wgnet.endpoint; expected the hub's HOST:PORT too");
  }

  if (has("wgnet.peers-file")) {
    o.peers_file =
        keys::confine_seed_path(ctx.seed_dir, value("wgnet.peers-file"), "wgnet.peers-file");
    std::string origin = "wgnet.peers-file '" + value("wgnet.peers-file") + "'";
    auto raw = keys::read_secret_file_beneath(ctx.seed_dir, o.peers_file, "wgnet.peers-file",
                                              1 << 20, [](const std::string& w) { log::warn(w); });
    std::string text(reinterpret_cast<const char*>(raw.data()), raw.size());
    crypto::ScopedWipe wipe_text(text);
    o.file_peers = parse_peers_file(text, origin);
  }
  if (!o.endpoint && o.file_peers.empty())
    throw InputError(
        "wgnet.endpoint is required: the hub's HOST:PORT (with wgnet.endpoint-key), "
        "or give wgnet.peers-file");

  if (has("wgnet.seed") && has("wgnet.seed-file"))
    throw InputError(name("wgnet.seed") + " and wgnet.seed-file are both given; expected one");
  if (has("wgnet.seed-file")) {
    o.seed_file =
        keys::confine_seed_path(ctx.seed_dir, value("wgnet.seed-file"), "wgnet.seed-file");
  } else if (has("wgnet.seed")) {
    o.seed = crypto::secret_from_base64(value("wgnet.seed"), name("wgnet.seed"));
  } else {
    throw InputError("wgnet.seed-file is required: a file inside " + ctx.seed_dir +
                     " holding the secret seed (or wgnet.seed, base64)");
  }

  if (!o.peers_file.empty() && o.peers_file == o.seed_file)
    throw InputError(
        "wgnet.peers-file names the seed file; expected a separate file of [Peer] "
        "sections");

  std::string additional_b64 = has("wgnet.additional") ? value("wgnet.additional")
                               : o.article_names       ? kArticleAdditional
                                                       : "";
  auto add = crypto::base64_decode(additional_b64);
  if (!add)
    throw InputError(name("wgnet.additional") +
                     ": not valid base64; expected standard base64 "
                     "with padding (it may be empty)");
  o.additional = std::move(*add);

  if (has("wgnet.keepalive"))
    o.keepalive = parse_uint<uint16_t>("wgnet.keepalive", value("wgnet.keepalive"), 0, 65535,
                                       "seconds 0-65535 (0 = off)");
  if (has("wgnet.mtu")) {
    o.mtu = parse_uint<uint32_t>("wgnet.mtu", value("wgnet.mtu"), 576, 65535, "an MTU 576-65535");
  } else if (auto m = generic.find(kDockerMtu); m != generic.end()) {
    o.mtu = parse_uint<uint32_t>(kDockerMtu, m->second, 576, 65535, "an MTU 576-65535");
  }
  if (ctx.ipv6 && o.mtu && *o.mtu < 1280)
    throw InputError("wgnet.mtu: " + std::to_string(*o.mtu) +
                     " is below 1280, which IPv6 networks need; expected at least 1280");

  if (has("wgnet.allowed-ips")) {
    std::string bad;
    auto cidrs = parse_cidr_list(value("wgnet.allowed-ips"), bad);
    if (!cidrs)
      throw InputError("wgnet.allowed-ips: '" + bad +
                       "' is not a CIDR; expected a comma-separated list such as "
                       "10.0.0.0/8,fd00::/8");
    o.allowed_ips = std::move(*cidrs);
    if (o.allowed_ips.empty())
      throw InputError("wgnet.allowed-ips: empty; expected at least one CIDR");
  } else {
    if (ctx.ipv4 || !ctx.ipv6) o.allowed_ips.push_back(*Cidr::parse("0.0.0.0/0"));
    if (ctx.ipv6) o.allowed_ips.push_back(*Cidr::parse("::/0"));
  }

  if (has("wgnet.psk")) {
    const auto& v = value("wgnet.psk");
    if (v != "derived" && v != "off")
      throw InputError("wgnet.psk: '" + v + "' is not known; expected 'derived' or 'off'");
    o.psk = v == "derived";
  }
  if (has("wgnet.backend")) {
    o.backend = value("wgnet.backend");
    const auto& choices = wg::backend_choices();
    if (std::find(choices.begin(), choices.end(), o.backend) == choices.end())
      throw InputError("wgnet.backend: '" + o.backend + "' is not known; expected " +
                       wg::backend_choices_text());
  }

  if (!ctx.check_environment) return o;
  // Load the seed now so a short, missing or unreadable seed refuses the network.
  crypto::SecretBytes seed = load_seed(o, ctx.seed_dir);
  std::string seed_name = has("wgnet.seed-file") ? "wgnet.seed-file" : name("wgnet.seed");
  if (o.psk && seed.size() < keys::min_seed_size(keys::Kdf::kHkdf))
    throw InputError("wgnet.psk=derived needs a seed of at least 16 bytes; " + seed_name + " has " +
                     std::to_string(seed.size()));
  keys::Deriver check(o.kdf, std::move(seed), o.additional, seed_name);
  if (ctx.resolve_hub) {
    if (o.endpoint) ctx.resolve_hub(*o.endpoint, name("wgnet.endpoint"));
    for (const auto& p : o.file_peers)
      if (p.endpoint) ctx.resolve_hub(*p.endpoint, "wgnet.peers-file Endpoint");
  }
  return o;
}

crypto::SecretBytes load_seed(const NetworkOptions& o, const std::string& seed_dir) {
  if (o.seed) return o.seed->copy();
  return keys::read_seed_file(seed_dir, o.seed_file, "wgnet.seed-file",
                              [](const std::string& w) { log::warn(w); });
}

const char* seed_option_name(const NetworkOptions& o) {
  return o.seed_file.empty() ? "wgnet.seed" : "wgnet.seed-file";
}

}  // namespace wgnet::driver
