// A small leveled logger to stderr: one line per message, timestamped, safe from many threads.
// Never pass secrets to it.
#pragma once
#include <sstream>
#include <string>
#include <string_view>

namespace wgnet::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// "debug", "info", "warn", "error"; throws InputError naming `what` otherwise.
Level parse_level(std::string_view text, std::string_view what);
void set_level(Level level);
bool enabled(Level level);
// With `on`, debug and info lines go to stdout (warn and error stay on stderr): dockerd logs a
// managed plugin's stdout at its level info and its stderr at level error.
void set_info_to_stdout(bool on);
// Writes one line: control characters in `message` (a newline in a request field, an escape
// sequence) are escaped as \xNN, so nobody can forge or hide log lines.
void write(Level level, std::string_view message);
// The escaping write() applies.
std::string escape(std::string_view message);

inline void debug(std::string_view m) { write(Level::kDebug, m); }
inline void info(std::string_view m) { write(Level::kInfo, m); }
inline void warn(std::string_view m) { write(Level::kWarn, m); }
inline void error(std::string_view m) { write(Level::kError, m); }

}  // namespace wgnet::log
