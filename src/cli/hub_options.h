// The options that say which peers a hub has, shared by `wgnet hub config` and `wgnet hub sync`:
// the key options (--seed-file/--seed, --additional, --kdf), --subnet, --range, --psk, --address
// (the hub's own, skipped) and --threads.
#pragma once
#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/derive_options.h"
#include "keys/hub.h"

namespace wgnet::cli {

struct HubPeerOptions {
  DeriveOptions derive;
  std::string subnet, range, psk = "off", hub_address;
  unsigned threads = 0;

  // `address_help` says what --address is for in this command.
  void add_to(CLI::App& cmd, const std::string& address_help);

  // Validated; each throws InputError naming the option at fault.
  Cidr parsed_subnet() const;
  std::optional<Cidr> parsed_hub_address() const;
  keys::AddressRange address_range() const;
  bool with_psk() const;

  // Every peer of the range, keys derived (checks the seed first).
  std::vector<keys::HubPeer> peers();
};

}  // namespace wgnet::cli
