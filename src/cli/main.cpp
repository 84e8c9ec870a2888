// `wgnet`: key derivation and hub configuration from the command line.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "util/error.h"
#include "util/hardening.h"

int main(int argc, char** argv) {
  CLI::App app{
      "wgnet: WireGuard networks for Docker containers.\n"
      "Keys of containers are derived from a seed, an additional value and the address."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(WGNET_VERSION));
  wgnet::cli::Commands commands(app);
  try {
    wgnet::disable_core_dumps();  // it reads seeds and prints keys
    app.parse(argc, argv);
    return commands.run();
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "wgnet: error: " << e.what() << " (see --help)\n";
    return 2;
  } catch (const wgnet::InputError& e) {
    std::cerr << "wgnet: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "wgnet: error: " << e.what() << "\n";
    return 1;
  }
}
