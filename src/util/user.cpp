#include "util/user.h"

#include <pwd.h>

#include <charconv>
#include <optional>
#include <vector>

#include "util/error.h"

namespace wgnet {

namespace {

// Decimal ids only, below the kernel's "no id" (-1).
std::optional<uint32_t> id_number(std::string_view s) {
  uint32_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || n == 0xffffffffu)
    return std::nullopt;
  return n;
}

}  // namespace

UserIds parse_user(std::string_view spec, std::string_view what) {
  const std::string prefix = std::string(what) + ": ";
  if (spec.empty()) throw InputError(prefix + "no user given");
  UserIds ids;
  if (const auto colon = spec.find(':'); colon != std::string_view::npos) {
    const auto uid = id_number(spec.substr(0, colon));
    const auto gid = id_number(spec.substr(colon + 1));
    if (!uid || !gid)
      throw InputError(prefix + "'" + std::string(spec) + "' is not NAME, UID or UID:GID");
    ids = {*uid, *gid};
  } else if (const auto uid = id_number(spec)) {
    ids = {*uid, *uid};
  } else {
    const std::string name(spec);
    passwd pw{};
    passwd* found = nullptr;
    std::vector<char> buf(16384);
    const int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc != 0) throw InputError(prefix + "looking up user '" + name + "': " + errno_text(rc));
    if (!found) throw InputError(prefix + "no user named '" + name + "'");
    ids = {pw.pw_uid, pw.pw_gid};
  }
  if (ids.uid == 0 || ids.gid == 0)
    throw InputError(prefix + "'" + std::string(spec) + "' is root; an unprivileged user is needed");
  return ids;
}

}  // namespace wgnet
