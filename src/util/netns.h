// Running a function inside another network namespace (a container's), on a thread of its own
// so the caller's namespace never changes.
#pragma once
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

namespace wgnet::netns {

// A network namespace, by the identity of its nsfs inode.
struct NsId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const NsId&) const = default;
};

// The namespace descriptor `fd` refers to (a /proc/.../ns/net file, TUNGETDEVNETNS's answer);
// nullopt when fstat fails.
std::optional<NsId> id_of(int fd);
// The calling thread's namespace; nullopt when /proc is not there.
std::optional<NsId> id_of_this_thread();

// Runs `fn` on a new thread that has entered the network namespace at `path` (a bind-mounted
// namespace file such as Docker's SandboxKey). Exceptions from `fn` are rethrown here.
void run_in(const std::string& path, const std::function<void()>& fn);

}  // namespace wgnet::netns
