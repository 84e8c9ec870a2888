// Log lines: "2026-11-25T16:20:01.123Z info message".
#include "util/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "util/error.h"

namespace wgnet::log {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<bool> g_info_to_stdout{false};
std::mutex g_mutex;
const char* name(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    default:
      return "error";
  }
}
}  // namespace

Level parse_level(std::string_view text, std::string_view what) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError})
    if (text == name(l)) return l;
  throw InputError(std::string(what) + ": unknown level '" + std::string(text) +
                   "'; expected debug, info, warn or error");
}

void set_level(Level level) { g_level = static_cast<int>(level); }
void set_info_to_stdout(bool on) { g_info_to_stdout = on; }
bool enabled(Level level) { return static_cast<int>(level) >= g_level; }

std::string escape(std::string_view message) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(message.size());
  for (unsigned char c : message) {
    if (c < 0x20 || c == 0x7f || c == '\\') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

void write(Level level, std::string_view raw) {
  if (!enabled(level)) return;
  std::string message = escape(raw);
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::FILE* out = g_info_to_stdout && level < Level::kWarn ? stdout : stderr;
  std::lock_guard lock(g_mutex);
  std::fprintf(out, "%s.%03dZ %s %.*s\n", stamp, static_cast<int>(ms), name(level),
               static_cast<int>(message.size()), message.data());
  std::fflush(out);
}

}  // namespace wgnet::log
