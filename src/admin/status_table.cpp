// The human view of `wgnet status`: one aligned row per endpoint, ages and byte counts in the
// units `wg show` uses, and the devices that could not be read listed below the table.
#include <algorithm>
#include <array>
#include <cstdio>

#include "admin/status.h"

namespace wgnet::admin {

namespace {

std::string without_prefix(const std::string& cidr) { return cidr.substr(0, cidr.find('/')); }

std::string addresses(const EndpointStatus& e) {
  std::string a = without_prefix(e.address);
  if (!e.address6.empty()) a += (a.empty() ? "" : ",") + without_prefix(e.address6);
  return a.empty() ? "-" : a;
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

}  // namespace

std::string format_age(int64_t last_handshake, int64_t now) {
  if (last_handshake <= 0) return "never";
  int64_t age = std::max<int64_t>(now - last_handshake, 0);
  auto part = [](int64_t n, const char* unit) { return std::to_string(n) + unit; };
  std::string text;
  if (age < 60)
    text = part(age, "s");
  else if (age < 3600)
    text = part(age / 60, "m") + " " + part(age % 60, "s");
  else if (age < 86400)
    text = part(age / 3600, "h") + " " + part(age % 3600 / 60, "m");
  else
    text = part(age / 86400, "d") + " " + part(age % 86400 / 3600, "h");
  return text + " ago";
}

std::string format_bytes(uint64_t bytes) {
  static constexpr std::array<const char*, 6> kUnits = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < kUnits.size()) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", v, kUnits[unit]);
  return buf;
}

std::string format_table(const std::vector<EndpointStatus>& endpoints, int64_t now) {
  if (endpoints.empty()) return "no wgnet endpoints\n";
  using Row = std::array<std::string, 10>;
  std::vector<Row> rows;
  rows.push_back({"NETWORK", "CONTAINER", "ADDRESS", "PUBLIC KEY", "BACKEND", "ENDPOINT",
                  "HANDSHAKE", "RX", "TX", "HEALTHY"});
  std::string notes;
  for (const auto& e : endpoints) {
    std::string healthy = e.healthy(now) ? "yes" : "no";
    if (!e.error.empty()) {
      healthy = "unknown";
      notes += e.container_label() + " (" + or_dash(e.interface) + "): " + e.error + "\n";
    } else if (!e.joined) {
      healthy = "no (not joined)";
    }
    rows.push_back({e.network_label(), e.container_label(), addresses(e), or_dash(e.public_key),
                    or_dash(e.backend), or_dash(e.endpoint()), format_age(e.last_handshake(), now),
                    format_bytes(e.rx_bytes()), format_bytes(e.tx_bytes()), healthy});
  }
  std::array<size_t, 10> width{};
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) {
      line += r[c];
      if (c + 1 < r.size()) line += std::string(width[c] - r[c].size() + 2, ' ');
    }
    out += line + "\n";
  }
  if (!notes.empty()) out += "\ndevices that could not be read:\n" + notes;
  return out;
}

}  // namespace wgnet::admin
