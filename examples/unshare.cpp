// The article's unshare example in C++: the interfaces rtnetlink shows before and after
// unshare(CLONE_NEWNET). A fresh network namespace holds nothing but a (down) loopback.
#include <sched.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>

#include "netlink/rtnl.h"

namespace {

void print_links(const std::string& title) {
  std::cout << title << ":\n";
  for (const auto& link : wgnet::netlink::rtnl::list_links())
    std::cout << "  " << link.index << ' ' << link.name << ' '
              << (link.kind.empty() ? "-" : link.kind) << '\n';
}

}  // namespace

int main() {
  try {
    print_links("before unshare(CLONE_NEWNET)");
    if (unshare(CLONE_NEWNET) != 0) {
      std::cerr << "unshare(CLONE_NEWNET) failed: " << std::strerror(errno)
                << " (it needs CAP_SYS_ADMIN: run as root)\n";
      return 1;
    }
    // Each list_links() opens its socket now, so it sees the namespace we just entered.
    print_links("after unshare(CLONE_NEWNET)");
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
}
