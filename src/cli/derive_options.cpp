// Shared option handling for `wgnet keys …` and `wgnet hub …`.
#include "cli/derive_options.h"

#include <iostream>

#include "crypto/encoding.h"
#include "keys/seed.h"
#include "util/error.h"

namespace wgnet::cli {

void DeriveOptions::add_to(CLI::App& cmd) {
  cmd.add_option("--kdf", kdf, "key scheme: hkdf (wgnet's default) or sha3 (the article's)")
      ->capture_default_str();
  auto* seed = cmd.add_option("--seed", seed_b64,
                              "the secret seed, base64 (visible in `ps`: "
                              "prefer --seed-file)");
  auto* file = cmd.add_option("--seed-file", seed_file, "file holding the raw seed bytes");
  seed->excludes(file);
  cmd.add_option("--additional", additional_b64, "the non-secret additional value, base64")
      ->capture_default_str();
}

keys::Deriver DeriveOptions::make_deriver() {
  keys::Kdf k = keys::parse_kdf(kdf, "--kdf");
  crypto::SecretBytes seed;
  if (!seed_file.empty()) {
    seed = keys::read_seed_file(seed_file, "--seed-file", warn);
  } else if (!seed_b64.empty()) {
    seed = crypto::secret_from_base64(seed_b64, "--seed");
    crypto::wipe(seed_b64.data(), seed_b64.size());
  } else {
    throw InputError("--seed or --seed-file: one is required; expected the secret seed");
  }
  auto add = crypto::base64_decode(additional_b64);
  if (!add)
    throw InputError("--additional: not valid base64; expected standard base64 with padding");
  return keys::Deriver(k, std::move(seed), std::move(*add),
                       seed_file.empty() ? "--seed" : "--seed-file");
}

void warn(const std::string& message) { std::cerr << "wgnet: " << message << "\n"; }

IpAddress parse_address(const std::string& text, std::string_view what) {
  auto addr = IpAddress::parse(text.substr(0, text.find('/')));
  if (!addr)
    throw InputError(std::string(what) + ": '" + text +
                     "' is not an IP address; expected IPv4 (10.0.42.2) or IPv6 (fd00::2)");
  return *addr;
}

}  // namespace wgnet::cli
