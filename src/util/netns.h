// Running a function inside another network namespace (a container's), on a thread of its own
// so the caller's namespace never changes.
#pragma once
#include <functional>
#include <string>

namespace wgnet::netns {

// Runs `fn` on a new thread that has entered the network namespace at `path` (a bind-mounted
// namespace file such as Docker's SandboxKey). Exceptions from `fn` are rethrown here.
void run_in(const std::string& path, const std::function<void()>& fn);

}  // namespace wgnet::netns
