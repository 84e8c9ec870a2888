// The error types (input from outside, with a message meant for the user; the system refusing)
// and the small helpers their messages are built with.
#pragma once
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace wgnet {

// Thrown for bad input (an option, a file, a request). The message names what was wrong
// and what is expected; it never contains secret material.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown when the system refuses something (a syscall, a library call).
class SystemError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The system's text for an errno value, for messages ("No such file or directory").
inline std::string errno_text(int error) { return std::strerror(error); }

// Docker's short form of a 64-hex object ID (12 characters), as `docker ps` prints it.
inline std::string short_id(std::string_view id) { return std::string(id.substr(0, 12)); }

}  // namespace wgnet
