// The subcommands of `wgnet`, each registered on the CLI11 app and run after parsing.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "cli/derive_options.h"
#include "cli/hub_options.h"

namespace wgnet::cli {

class Commands {
 public:
  explicit Commands(CLI::App& app);
  // Runs the subcommand that was parsed; returns the exit code.
  int run();

 private:
  void add_keys(CLI::App& app);
  void add_hub(CLI::App& app);

  std::function<int()> selected_;
  DeriveOptions derive_;
  std::string address_;
  // hub config
  HubPeerOptions hub_;
  std::string format_ = "wg-quick", private_key_file_;
  int listen_port_ = -1;
};

}  // namespace wgnet::cli
