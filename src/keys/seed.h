// Reading secret seeds from files, and confining seed paths to the daemon's seed directory.
#pragma once
#include <functional>
#include <string>
#include <string_view>

#include "crypto/secure.h"

namespace wgnet::keys {

using Warn = std::function<void(const std::string&)>;

// The raw bytes of a seed file (at most 4096 bytes). Throws InputError naming `what` and the path
// when it cannot be read; calls `warn` when the file is readable by group or others.
crypto::SecretBytes read_seed_file(const std::string& path, std::string_view what,
                                   const Warn& warn);

// Resolves `path` (absolute, or relative to `seed_dir`) and checks that the file it names lies
// inside `seed_dir`, also through symlinks. Returns the canonical path; throws InputError.
std::string confine_seed_path(const std::string& seed_dir, const std::string& path,
                              std::string_view what);

}  // namespace wgnet::keys
