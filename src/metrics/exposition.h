// The Prometheus text exposition format (version 0.0.4): what a scrape of `wgnetd --metrics`
// returns. Pure formatting of snapshots; the registry (metrics/registry.h) produces them.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wgnet::metrics {

enum class Type { kCounter, kGauge, kHistogram };

using LabelPairs = std::vector<std::pair<std::string, std::string>>;  // name, value

struct Sample {
  std::string suffix;  // "" or, for a histogram, "_bucket", "_sum" or "_count"
  LabelPairs labels;
  double value = 0;
};

// One metric family as it is at one moment.
struct FamilySnapshot {
  std::string name;
  std::string help;
  Type type = Type::kGauge;
  std::vector<Sample> samples;
};

// The content type a scrape is answered with.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Whether `name` may name a metric ([a-zA-Z_:][a-zA-Z0-9_:]*) or a label ([a-zA-Z_][a-zA-Z0-9_]*,
// not starting with "__", which Prometheus reserves).
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

// A sample value as the format writes it: integers without exponent or fraction, "+Inf",
// "-Inf", "NaN", other numbers in their shortest exact form.
std::string format_value(double value);

// The families in the order given: "# HELP", "# TYPE", then one line per sample. Label values
// and help texts are escaped as the format requires, so any text is safe in them.
std::string render(const std::vector<FamilySnapshot>& families);

}  // namespace wgnet::metrics
