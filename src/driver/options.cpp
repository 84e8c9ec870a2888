// The network options as one table, in the manner of the kernel's nla_policy: each entry names an
// option, its alias among the article's io.bestov.wg.* names, and how its value is checked and
// stored. Unknown keys, aliases and their messages come from the table; what involves several
// options (or the network's pools) is checked after it, in check_across_options. Everything is
// checked before anything is created, so a bad network is refused whole.
#include "driver/options.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <string_view>

#include "crypto/encoding.h"
#include "driver/peers_file.h"
#include "keys/seed.h"
#include "util/error.h"
#include "util/log.h"
#include "wg/backends.h"

namespace wgnet::driver {

namespace {

constexpr std::string_view kPrefix = "wgnet.";
constexpr std::string_view kArticlePrefix = "io.bestov.wg.";
constexpr const char* kDockerMtu = "com.docker.network.driver.mtu";
// The article's key script defaults "additional" to base64("bestov.io").
constexpr std::string_view kArticleAdditional = "bestov.io";

template <typename T>
T parse_uint(const std::string& name, const std::string& v, T lo, T hi, const std::string& expect) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() || n < lo || n > hi)
    throw InputError(name + ": '" + v + "' is not valid; expected " + expect);
  return static_cast<T>(n);
}

// One option of the table. `parse` checks the value alone and stores it in `o`; `given` is the
// name the option was given under (the key or its alias), for messages.
struct OptionPolicy {
  std::string_view key;
  std::string_view alias;  // the article's name for it, or empty
  void (*parse)(const std::string& given, const std::string& value, const OptionContext& ctx,
                NetworkOptions& o);
};

// Parsed in this order (the order the values were always checked in), so of several bad values
// the same one is reported. What needs other options is checked afterwards, in
// check_across_options.
constexpr OptionPolicy kOptions[] = {
    {"wgnet.kdf", "",
     [](const std::string& given, const std::string& v, const OptionContext&, NetworkOptions& o) {
       o.kdf = keys::parse_kdf(v, given);
     }},
    {"wgnet.endpoint", "io.bestov.wg.peer",
     [](const std::string& given, const std::string& v, const OptionContext&, NetworkOptions& o) {
       o.endpoint = parse_hub_endpoint(v);
       if (!o.endpoint)
         throw InputError(given + ": '" + v +
                          "' is not valid; expected HOST:PORT, [IPv6]:PORT or DNSNAME:PORT");
     }},
    {"wgnet.endpoint-key", "io.bestov.wg.peerkey",
     [](const std::string& given, const std::string& v, const OptionContext&, NetworkOptions& o) {
       o.endpoint_key = crypto::key_from_base64(v, given);
     }},
    {"wgnet.peers-file", "",
     [](const std::string& given, const std::string& v, const OptionContext& ctx,
        NetworkOptions& o) { o.peers_file = keys::confine_seed_path(ctx.seed_dir, v, given); }},
    {"wgnet.seed-file", "",
     [](const std::string& given, const std::string& v, const OptionContext& ctx,
        NetworkOptions& o) { o.seed_file = keys::confine_seed_path(ctx.seed_dir, v, given); }},
    {"wgnet.seed", "io.bestov.wg.seed",
     [](const std::string& given, const std::string& v, const OptionContext&, NetworkOptions& o) {
       o.seed = crypto::secret_from_base64(v, given);
     }},
    {"wgnet.additional", "io.bestov.wg.additional",
     [](const std::string& given, const std::string& v, const OptionContext&, NetworkOptions& o) {
       auto add = crypto::base64_decode(v);
       if (!add)
         throw InputError(given +
                          ": not valid base64; expected standard base64 "
                          "with padding (it may be empty)");
       o.additional = std::move(*add);
     }},
    {"wgnet.keepalive", "",
     [](const std::string& given, const std::string& v, const OptionContext&, NetworkOptions& o) {
       o.keepalive = parse_uint<uint16_t>(given, v, 0, 65535, "seconds 0-65535 (0 = off)");
     }},
    {"wgnet.mtu", "",
     [](const std::string& given, const std::string& v, const OptionContext&, NetworkOptions& o) {
       o.mtu = parse_uint<uint32_t>(given, v, 576, 65535, "an MTU 576-65535");
     }},
    {"wgnet.allowed-ips", "",
     [](const std::string& given, const std::string& v, const OptionContext&, NetworkOptions& o) {
       std::string bad;
       auto cidrs = parse_cidr_list(v, bad);
       if (!cidrs)
         throw InputError(given + ": '" + bad +
                          "' is not a CIDR; expected a comma-separated list such as "
                          "10.0.0.0/8,fd00::/8");
       if (cidrs->empty()) throw InputError(given + ": empty; expected at least one CIDR");
       o.allowed_ips = std::move(*cidrs);
     }},
    {"wgnet.psk", "",
     [](const std::string& given, const std::string& v, const OptionContext&, NetworkOptions& o) {
       if (v != "derived" && v != "off")
         throw InputError(given + ": '" + v + "' is not known; expected 'derived' or 'off'");
       o.psk = v == "derived";
     }},
    {"wgnet.backend", "",
     [](const std::string& given, const std::string& v, const OptionContext&, NetworkOptions& o) {
       const auto& choices = wg::backend_choices();
       if (std::find(choices.begin(), choices.end(), v) == choices.end())
         throw InputError(given + ": '" + v + "' is not known; expected " +
                          wg::backend_choices_text());
       o.backend = v;
     }},
};

const OptionPolicy* find_option(std::string_view name) {
  for (const auto& p : kOptions)
    if (name == p.key || (!p.alias.empty() && name == p.alias)) return &p;
  return nullptr;
}

std::string join(const auto& names) {
  std::string s;
  for (std::string_view n : names) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}
// The keys, sorted: "wgnet.additional, wgnet.allowed-ips, ...".
std::string known_keys() {
  std::set<std::string_view> keys;
  for (const auto& p : kOptions) keys.insert(p.key);
  return join(keys);
}
// The article's names, in the table's order: "io.bestov.wg.peer, io.bestov.wg.peerkey, ...".
std::string article_keys() {
  std::vector<std::string_view> aliases;
  for (const auto& p : kOptions)
    if (!p.alias.empty()) aliases.push_back(p.alias);
  return join(aliases);
}

// An option as it was given: under which name (its key or its alias), with which value.
struct Given {
  std::string name;
  std::string value;
};
using GivenOptions = std::map<std::string_view, Given>;  // by the table's key

// The wgnet.* and io.bestov.wg.* options of `generic` by their table key (Docker's own options are
// left out). Throws for a key the table does not know and for an option given under both names.
GivenOptions given_options(const std::map<std::string, std::string>& generic) {
  GivenOptions given;
  for (const auto& [key, value] : generic) {
    const OptionPolicy* p = find_option(key);
    if (!p) {
      if (key.starts_with(kArticlePrefix))
        throw InputError(key + ": unknown option; the article's options are " + article_keys());
      if (key.starts_with(kPrefix))
        throw InputError(key + ": unknown option; expected one of " + known_keys());
      continue;  // Docker's own options
    }
    if (auto prev = given.find(p->key); prev != given.end())
      throw InputError(key + ": given twice (also as " + prev->second.name +
                       "); expected one of them");
    given.emplace(p->key, Given{key, value});
  }
  return given;
}

// What involves more than one option, or the network's pools, once every option given has been
// parsed alone: the hub's endpoint and key go together; a hub or a peers file (read and parsed
// here); exactly one seed; the peers file is not the seed; the article's defaults (kdf sha3,
// additional "bestov.io"); Docker's MTU when wgnet.mtu is not given, and IPv6's floor of 1280;
// allowed IPs by default for the network's families.
void check_across_options(const GivenOptions& given,
                          const std::map<std::string, std::string>& generic,
                          const OptionContext& ctx, NetworkOptions& o) {
  auto has = [&](std::string_view k) { return given.count(k) > 0; };
  auto name = [&](std::string_view k) -> const std::string& { return given.at(k).name; };

  if (o.article_names && !has("wgnet.kdf")) o.kdf = keys::Kdf::kSha3;

  if (has("wgnet.endpoint") && !has("wgnet.endpoint-key"))
    throw InputError(name("wgnet.endpoint") +
                     " needs wgnet.endpoint-key (or io.bestov.wg.peerkey): "
                     "the hub's public key, base64");
  if (has("wgnet.endpoint-key") && !has("wgnet.endpoint"))
    throw InputError(name("wgnet.endpoint-key") +
                     " is given without wgnet.endpoint; expected the hub's HOST:PORT too");

  if (has("wgnet.peers-file")) {
    std::string origin = "wgnet.peers-file '" + given.at("wgnet.peers-file").value + "'";
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
  if (!has("wgnet.seed") && !has("wgnet.seed-file"))
    throw InputError("wgnet.seed-file is required: a file inside " + ctx.seed_dir +
                     " holding the secret seed (or wgnet.seed, base64)");
  if (!o.peers_file.empty() && o.peers_file == o.seed_file)
    throw InputError(
        "wgnet.peers-file names the seed file; expected a separate file of [Peer] "
        "sections");

  if (o.article_names && !has("wgnet.additional"))
    o.additional.assign(kArticleAdditional.begin(), kArticleAdditional.end());

  if (auto m = generic.find(kDockerMtu); !has("wgnet.mtu") && m != generic.end())
    o.mtu = parse_uint<uint32_t>(kDockerMtu, m->second, 576, 65535, "an MTU 576-65535");
  if (ctx.ipv6 && o.mtu && *o.mtu < 1280)
    throw InputError("wgnet.mtu: " + std::to_string(*o.mtu) +
                     " is below 1280, which IPv6 networks need; expected at least 1280");

  if (!has("wgnet.allowed-ips")) {
    if (ctx.ipv4 || !ctx.ipv6) o.allowed_ips.push_back(*Cidr::parse("0.0.0.0/0"));
    if (ctx.ipv6) o.allowed_ips.push_back(*Cidr::parse("::/0"));
  }
}

// What the options name outside themselves (at CreateNetwork): the seed is loaded, so a short,
// missing or unreadable seed refuses the network, and the hubs' names are resolved.
void check_environment(const GivenOptions& given, const OptionContext& ctx,
                       const NetworkOptions& o) {
  crypto::SecretBytes seed = load_seed(o, ctx.seed_dir);
  const std::string& seed_name = given.count("wgnet.seed-file") ? given.at("wgnet.seed-file").name
                                                                : given.at("wgnet.seed").name;
  if (o.psk && seed.size() < keys::min_seed_size(keys::Kdf::kHkdf))
    throw InputError("wgnet.psk=derived needs a seed of at least 16 bytes; " + seed_name + " has " +
                     std::to_string(seed.size()));
  keys::Deriver check(o.kdf, std::move(seed), o.additional, seed_name);
  if (ctx.resolve_hub) {
    if (o.endpoint) ctx.resolve_hub(*o.endpoint, given.at("wgnet.endpoint").name);
    for (const auto& p : o.file_peers)
      if (p.endpoint) ctx.resolve_hub(*p.endpoint, "wgnet.peers-file Endpoint");
  }
}

}  // namespace

std::string HubEndpoint::str() const {
  return host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                             : host + ":" + std::to_string(port);
}

NetworkOptions parse_network_options(const std::map<std::string, std::string>& generic,
                                     const OptionContext& ctx) {
  const GivenOptions given = given_options(generic);
  NetworkOptions o;
  for (const auto& [key, g] : given)
    if (g.name != key) o.article_names = true;  // given under the article's name
  for (const auto& p : kOptions)
    if (auto g = given.find(p.key); g != given.end())
      p.parse(g->second.name, g->second.value, ctx, o);
  check_across_options(given, generic, ctx, o);
  if (ctx.check_environment) check_environment(given, ctx, o);
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
