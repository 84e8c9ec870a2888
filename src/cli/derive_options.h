// The options every key-deriving command shares: --kdf, --seed | --seed-file, --additional.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "keys/derive.h"

namespace wgnet::cli {

struct DeriveOptions {
  std::string kdf = "hkdf";
  std::string seed_b64;
  std::string seed_file;
  std::string additional_b64;

  void add_to(CLI::App& cmd);
  // Validates and loads the seed; throws InputError naming the option at fault.
  keys::Deriver make_deriver();
};

// Prints a warning (e.g. a group-readable seed file) on stderr.
void warn(const std::string& message);

// Parses ADDRESS (a trailing /prefix is ignored); throws InputError naming `what`.
IpAddress parse_address(const std::string& text, std::string_view what);

}  // namespace wgnet::cli
