// Fuzzes the network option parser (driver::parse_network_options) against a temporary seed
// directory (a seed, a short seed, a peers file): input is "key=value" lines; "@ipv6" and "@check"
// lines set the context. Checks: only InputError/SystemError, errors never quote the seed, and
// what parses obeys the option table.
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "driver/options.h"
#include "fuzz_util.h"
#include "util/log.h"

using namespace wgnet;
namespace fs = std::filesystem;

namespace {

std::string g_seed_dir;

void write_file(const fs::path& p, const std::string& data) {
  std::ofstream(p) << data;
  ::chmod(p.c_str(), 0600);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_level(log::Level::kError);
  char tmpl[] = "/tmp/wgnet-fuzz-options-XXXXXX";
  if (!::mkdtemp(tmpl)) std::abort();
  g_seed_dir = tmpl;
  write_file(g_seed_dir + "/seed", "0123456789abcdef0123456789abcdef");
  write_file(g_seed_dir + "/short", "0123456789");
  write_file(g_seed_dir + "/peers",
             "[Peer]\nPublicKey = ZDT64H99t/mK5RFAxcZRx2KTK4PN8cVP55zWhkFXWgk=\n"
             "Endpoint = 198.18.42.2:51820\nAllowedIPs = 10.0.0.0/8, fd00::/8\n");
  std::atexit([] { fs::remove_all(g_seed_dir); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  std::map<std::string, std::string> generic;
  driver::OptionContext ctx;
  ctx.seed_dir = g_seed_dir;
  ctx.check_environment = false;  // no DNS; the seed is read only with "@check"
  while (!in.empty()) {
    const std::string_view line = in.until('\n');
    if (line == "@ipv6") {
      ctx.ipv6 = true;
    } else if (line == "@check") {
      ctx.check_environment = true;
    } else {
      const size_t eq = line.find('=');
      generic[std::string(line.substr(0, eq))] =
          eq == std::string_view::npos ? "" : std::string(line.substr(eq + 1));
    }
  }

  driver::NetworkOptions o;
  std::string error;
  try {
    o = driver::parse_network_options(generic, ctx);
  } catch (const InputError& e) {
    error = e.what();
  } catch (const SystemError& e) {
    error = e.what();
  }
  if (!error.empty()) {
    // The message names the option, never the seed (unless the same text is given elsewhere).
    for (const char* name : {"wgnet.seed", "io.bestov.wg.seed"}) {
      auto s = generic.find(name);
      if (s == generic.end()) continue;
      const std::string_view all = fuzz::as_text(data, size);
      if (all.find(s->second) == all.rfind(s->second)) FUZZ_CHECK(!fuzz::leaks(error, s->second));
    }
    return 0;
  }
  FUZZ_CHECK(o.endpoint || !o.file_peers.empty());
  FUZZ_CHECK(o.endpoint.has_value() == o.endpoint_key.has_value());
  FUZZ_CHECK(o.seed.has_value() != !o.seed_file.empty());
  // Unset: from the path to the hub, decided per device (driver/mtu.h).
  FUZZ_CHECK(!o.mtu || (*o.mtu >= 576 && *o.mtu <= 65535));
  if (ctx.ipv6 && o.mtu) FUZZ_CHECK(*o.mtu >= 1280);
  FUZZ_CHECK(!o.allowed_ips.empty());
  for (const Cidr& c : o.allowed_ips) FUZZ_CHECK(c.is_network());
  for (const auto& p : o.file_peers) FUZZ_CHECK(!p.config.allowed_ips.empty());
  if (!o.seed_file.empty()) FUZZ_CHECK(o.seed_file.rfind(g_seed_dir + "/", 0) == 0);
  if (!o.peers_file.empty()) FUZZ_CHECK(o.peers_file.rfind(g_seed_dir + "/", 0) == 0);
  return 0;
}
