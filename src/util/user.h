// Unprivileged users the daemons hand things to (the owner of the engine's TUN devices).
#pragma once
#include <sys/types.h>

#include <string>
#include <string_view>

namespace wgnet {

struct UserIds {
  uid_t uid = 0;
  gid_t gid = 0;
};

// "NAME" (looked up in the system's user database: its uid and primary group), "UID" (gid the
// same number) or "UID:GID". Root (uid or gid 0) is refused: the point is a user that is not.
// Throws InputError naming `what` (e.g. "--engine-user") and what was wrong.
UserIds parse_user(std::string_view spec, std::string_view what);

}  // namespace wgnet
