// One error type for input that came from outside: its message is meant for the user.
#pragma once
#include <stdexcept>
#include <string>

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

}  // namespace wgnet
