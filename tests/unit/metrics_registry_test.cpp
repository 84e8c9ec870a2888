// The metrics registry and the Prometheus text format: escaping, numbers, histograms (cumulative,
// count equal to +Inf), collectors, concurrent updates; and `promtool check metrics` (Debian's
// prometheus package) accepting what the registry writes, when promtool is installed.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "metrics/exposition.h"
#include "metrics/registry.h"

using namespace wgnet::metrics;

TEST(MetricsText, FamiliesAreWrittenWithHelpTypeAndEscapedLabels) {
  FamilySnapshot f{"wgnet_things_total", "Things, counted\nover \\ lines", Type::kCounter, {}};
  f.samples.push_back({"", {{"name", "a\"b\\c\nd"}, {"kind", "x"}}, 3});
  f.samples.push_back({"", {}, 0.5});
  EXPECT_EQ(render({f}),
            "# HELP wgnet_things_total Things, counted\\nover \\\\ lines\n"
            "# TYPE wgnet_things_total counter\n"
            "wgnet_things_total{name=\"a\\\"b\\\\c\\nd\",kind=\"x\"} 3\n"
            "wgnet_things_total 0.5\n");
}

TEST(MetricsText, NumbersAreExactAndShort) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(1700000000), "1700000000");
  EXPECT_EQ(format_value(18446744073709551616.0), "18446744073709551616");  // shortest form
  EXPECT_EQ(format_value(1e300), "1e+300");
  EXPECT_EQ(format_value(0.001), "0.001");
  EXPECT_EQ(format_value(-2.5), "-2.5");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_value(0.0 / 0.0), "NaN");
}

TEST(MetricsText, NamesAreChecked) {
  EXPECT_TRUE(valid_metric_name("wgnet_a:b_1"));
  EXPECT_FALSE(valid_metric_name("1abc"));
  EXPECT_FALSE(valid_metric_name("a-b"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_TRUE(valid_label_name("network"));
  EXPECT_FALSE(valid_label_name("__reserved"));
  EXPECT_FALSE(valid_label_name("a:b"));
}

TEST(MetricsRegistry, CountersGaugesAndHistograms) {
  Registry r;
  auto& c = r.counter("wgnet_calls_total", "calls", {"method"});
  c.with({"Join"}).inc();
  c.with({"Join"}).inc(2);
  c.with({"Leave"}).inc();
  EXPECT_EQ(&r.counter("wgnet_calls_total", "calls", {"method"}), &c) << "one family per name";
  r.gauge("wgnet_up", "up").with({}).set(1);
  auto& h = r.histogram("wgnet_latency_seconds", "latency", {"method"}, {0.1, 1});
  h.with({"Join"}).observe(0.05);
  h.with({"Join"}).observe(0.1);  // "le" includes the bound
  h.with({"Join"}).observe(5);
  EXPECT_EQ(r.render(),
            "# HELP wgnet_calls_total calls\n# TYPE wgnet_calls_total counter\n"
            "wgnet_calls_total{method=\"Join\"} 3\nwgnet_calls_total{method=\"Leave\"} 1\n"
            "# HELP wgnet_latency_seconds latency\n# TYPE wgnet_latency_seconds histogram\n"
            "wgnet_latency_seconds_bucket{method=\"Join\",le=\"0.1\"} 2\n"
            "wgnet_latency_seconds_bucket{method=\"Join\",le=\"1\"} 2\n"
            "wgnet_latency_seconds_bucket{method=\"Join\",le=\"+Inf\"} 3\n"
            "wgnet_latency_seconds_sum{method=\"Join\"} 5.15\n"
            "wgnet_latency_seconds_count{method=\"Join\"} 3\n"
            "# HELP wgnet_up up\n# TYPE wgnet_up gauge\nwgnet_up 1\n");
}

TEST(MetricsRegistry, MisuseIsRefused) {
  Registry r;
  r.counter("wgnet_x_total", "x", {"a"});
  EXPECT_THROW(r.gauge("wgnet_x_total", "x", {"a"}), std::logic_error);
  EXPECT_THROW(r.counter("wgnet_x_total", "x", {"b"}), std::logic_error);
  EXPECT_THROW(r.counter("bad-name", "x"), std::logic_error);
  EXPECT_THROW(r.histogram("wgnet_h", "h", {"le"}, {1}), std::logic_error);
  EXPECT_THROW(r.histogram("wgnet_h2", "h", {}, {2, 1}), std::logic_error);
  EXPECT_THROW(r.counter("wgnet_x_total", "x", {"a"}).with({}), std::invalid_argument);
}

TEST(MetricsRegistry, CollectorsComeAfterRegisteredFamilies) {
  Registry r;
  r.counter("wgnet_b_total", "b").with({}).inc();
  int calls = 0;
  r.add_collector([&] {
    ++calls;
    return std::vector<FamilySnapshot>{{"wgnet_a", "a", Type::kGauge, {{"", {{"k", "v"}}, 7}}}};
  });
  std::string text = r.render();
  EXPECT_EQ(calls, 1);
  EXPECT_LT(text.find("wgnet_b_total 1"), text.find("wgnet_a{k=\"v\"} 7"));
}

// Many threads count at once: nothing is lost, and a histogram's count always equals its +Inf
// bucket in every snapshot taken meanwhile.
TEST(MetricsRegistry, ConcurrentUpdatesAreExact) {
  Registry r;
  auto& c = r.counter("wgnet_n_total", "n", {"t"});
  auto& h = r.histogram("wgnet_d_seconds", "d", {}, {0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        c.with({std::to_string(t % 2)}).inc();
        h.with({}).observe(i % 2 ? 0.1 : 1.0);
      }
    });
  for (int i = 0; i < 50; ++i) {
    auto s = h.with({}).snapshot();
    EXPECT_EQ(s.count, s.cumulative.back());
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.with({"0"}).value() + c.with({"1"}).value(), 40000u);
  EXPECT_EQ(h.with({}).snapshot().count, 40000u);
}

// What the registry writes, checked by Prometheus' own linter.
TEST(MetricsRegistry, PromtoolAcceptsTheOutput) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "promtool not installed (Debian: apt-get install prometheus)";
  Registry r;
  r.counter("wgnet_requests_total", "requests", {"method", "result"}).with({"Join", "ok"}).inc();
  r.histogram("wgnet_request_duration_seconds", "latency", {"method"}, latency_buckets())
      .with({"Join"})
      .observe(0.003);
  r.gauge("wgnet_endpoint_last_handshake_timestamp_seconds", "last handshake", {"endpoint"})
      .with({"0123456789ab"})
      .set(1700000000);
  r.gauge("wgnet_odd", "odd \"label\" values", {"v"}).with({"a\"\\\n b"}).set(0.25);
  std::string path = ::testing::TempDir() + "metrics_promtool.txt";
  std::ofstream(path) << r.render();
  std::string cmd = "promtool check metrics < " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof buf, p)) out += buf;
  int rc = pclose(p);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << "promtool's lint has something to say";
  std::remove(path.c_str());
}
