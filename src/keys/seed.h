// Reading secret seeds from files, and confining seed paths to the daemon's seed directory.
#pragma once
#include <functional>
#include <string>
#include <string_view>

#include "crypto/secure.h"

namespace wgnet::keys {

using Warn = std::function<void(const std::string&)>;

// The bytes of a file holding secrets (at most `max_bytes`), read into a wiped buffer. Refuses
// anything but a regular file without blocking (a FIFO must not hang the daemon). Throws
// InputError naming `what` and the path; calls `warn` when group or others can read it.
crypto::SecretBytes read_secret_file(const std::string& path, std::string_view what,
                                     size_t max_bytes, const Warn& warn);

// The same for a file that must lie beneath directory `dir` (`path` absolute inside it, or
// relative to it): opened relative to the directory with openat2(RESOLVE_BENEATH), so no symlink
// or ".." can lead the read out of it, even one swapped in after the path was first checked.
crypto::SecretBytes read_secret_file_beneath(const std::string& dir, const std::string& path,
                                             std::string_view what, size_t max_bytes,
                                             const Warn& warn);

// The raw bytes of a seed file (at most 4096 bytes, not empty): anywhere (the command line), or
// beneath `dir` (the daemon's seed directory). Throws InputError naming `what` and the path when
// it cannot be read; calls `warn` when the file is readable by group or others.
crypto::SecretBytes read_seed_file(const std::string& path, std::string_view what,
                                   const Warn& warn);
crypto::SecretBytes read_seed_file(const std::string& dir, const std::string& path,
                                   std::string_view what, const Warn& warn);

// Resolves `path` (absolute, or relative to `seed_dir`) and checks that the file it names lies
// inside `seed_dir`, also through symlinks. Returns the canonical path; throws InputError.
std::string confine_seed_path(const std::string& seed_dir, const std::string& path,
                              std::string_view what);

}  // namespace wgnet::keys
