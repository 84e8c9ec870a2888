// `wgnet keys derive|pub|psk` and `wgnet hub config`; `hub sync` and `status` live in files of
// their own.
#include "cli/commands.h"

#include <unistd.h>

#include <iostream>
#include <iterator>

#include "cli/hub_sync.h"
#include "cli/status.h"
#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "keys/hub.h"
#include "keys/seed.h"
#include "util/error.h"

namespace wgnet::cli {

namespace {

// One base64 key in `text`, like `wg pubkey` reads it: surrounding whitespace is ignored.
// `text` is wiped whatever happens.
crypto::Key key_from_text(std::string text, std::string_view what) {
  crypto::ScopedWipe wipe_text(text);
  auto b = text.find_first_not_of(" \t\r\n");
  auto e = text.find_last_not_of(" \t\r\n");
  std::string_view key =
      b == std::string::npos ? std::string_view() : std::string_view(text).substr(b, e - b + 1);
  return crypto::key_from_base64(key, what);
}

crypto::Key read_key_from_stdin() {
  return key_from_text(
      std::string((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>()),
      "stdin");
}

void print_key(const crypto::Key& k) {
  std::string s = crypto::key_to_base64(k);
  std::cout << s << "\n";
  crypto::wipe(s.data(), s.size());
}

}  // namespace

Commands::Commands(CLI::App& app) {
  add_keys(app);
  add_hub(app);
  add_status_command(app, selected_);
}

int Commands::run() { return selected_ ? selected_() : 2; }

void Commands::add_keys(CLI::App& app) {
  auto* keys = app.add_subcommand("keys", "derive and convert keys");
  keys->require_subcommand(1);

  auto* derive = keys->add_subcommand("derive", "print a container's private key (base64)");
  derive_.add_to(*derive);
  derive->add_option("ADDRESS", address_, "the container's IP address")->required();
  derive->callback([this] {
    selected_ = [this] {
      auto d = derive_.make_deriver();
      print_key(d.private_key(parse_address(address_, "ADDRESS")));
      return 0;
    };
  });

  auto* psk = keys->add_subcommand("psk", "print a container's derived preshared key (base64)");
  derive_.add_to(*psk);
  psk->add_option("ADDRESS", address_, "the container's IP address")->required();
  psk->callback([this] {
    selected_ = [this] {
      auto d = derive_.make_deriver();
      print_key(d.preshared_key(parse_address(address_, "ADDRESS")));
      return 0;
    };
  });

  auto* pub =
      keys->add_subcommand("pub", "read a private key (base64) on stdin, print its public key");
  pub->callback([this] {
    selected_ = [] {
      print_key(crypto::public_key(read_key_from_stdin()));
      return 0;
    };
  });
}

void Commands::add_hub(CLI::App& app) {
  auto* hub = app.add_subcommand("hub", "configure the hub that containers connect to");
  hub->require_subcommand(1);
  auto* config =
      hub->add_subcommand("config", "print the hub's configuration: one peer per address");
  hub_.add_to(*config, "the hub's own tunnel address, CIDR (skipped as a peer; wg-quick Address)");
  config->add_option("--format", format_, "wg-quick, wg (for `wg setconf`) or json")
      ->capture_default_str();
  config->add_option("--private-key-file", private_key_file_,
                     "the hub's private key (base64), for the [Interface] section");
  config->add_option("--listen-port", listen_port_,
                     "the hub's UDP port, for the [Interface] section");
  config->callback([this] {
    selected_ = [this] {
      keys::AddressRange r = hub_.address_range();
      keys::HubInterface iface;
      iface.address = hub_.parsed_hub_address();
      if (listen_port_ != -1) {
        if (listen_port_ < 1 || listen_port_ > 65535)
          throw InputError("--listen-port: " + std::to_string(listen_port_) +
                           " is not a port; expected 1-65535");
        iface.listen_port = static_cast<uint16_t>(listen_port_);
      }
      bool with_psk = hub_.with_psk();
      auto format = keys::parse_hub_format(format_, "--format");
      auto d = hub_.derive.make_deriver();
      if (!private_key_file_.empty()) {
        auto raw = keys::read_secret_file(private_key_file_, "--private-key-file", 4096, warn);
        iface.private_key =
            key_from_text(std::string(reinterpret_cast<const char*>(raw.data()), raw.size()),
                          "--private-key-file");
      }
      auto addresses = keys::enumerate_addresses(r);
      if (with_psk && !addresses.empty()) d.preshared_key(addresses.front());  // validates the seed
      std::ios::sync_with_stdio(false);
      keys::write_hub_config(std::cout, d, addresses, with_psk, format, iface, hub_.threads);
      std::cout.flush();
      return std::cout ? 0 : 1;
    };
  });
  add_hub_sync_command(*hub, selected_);
}

}  // namespace wgnet::cli
