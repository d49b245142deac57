// The SVG charts, the projection model's fit, and the HTML report: a marker
// per run, the overlay of an older sweep, nothing fetched from anywhere.
#include "launch/scale/report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>

#include "launch/scale/projection.h"
#include "launch/scale/svg.h"
#include "launch/scale/sweep.h"

namespace metaps::scale {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(SvgTest, NumbersAndTicks) {
  EXPECT_EQ(FormatNumber(1234567), "1.23M");
  EXPECT_EQ(FormatNumber(0.0123), "0.0123");
  EXPECT_EQ(FormatNumber(2e9), "2G");
  EXPECT_EQ(FormatNumber(12500), "12.5k");
  EXPECT_EQ(FormatNumber(NAN), "n/a");
  EXPECT_EQ(LinearTicks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(LinearTicks(0, 0.9, 3), (std::vector<double>{0, 0.5, 1}));
  EXPECT_EQ(LinearTicks(3, 17, 3), (std::vector<double>{0, 5, 10, 15, 20}));
  EXPECT_EQ(LogTicks(8, 256), (std::vector<double>{8, 16, 32, 64, 128, 256}));
  EXPECT_EQ(LogTicks(3e5, 3e7), (std::vector<double>{5e5, 1e6, 2e6, 5e6, 1e7, 2e7}));
  EXPECT_EQ(XmlEscape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
}

TEST(SvgTest, LinePlotDrawsEveryPointWithItsAttributes) {
  LinePlot plot;
  plot.title = "t <1>";
  Series s;
  s.name = "runs";
  s.color = "#123456";
  s.x = {1, 2, 4};
  s.y = {10, 20, NAN};  // a missing value draws nothing
  s.ymin = {9, 18, NAN};
  s.ymax = {11, 22, NAN};
  s.point_attrs = {"data-run=\"0\"", "data-run=\"1\"", "data-run=\"2\""};
  plot.series.push_back(s);
  const std::string svg = RenderLinePlot(plot);
  EXPECT_EQ(svg.rfind("<svg ", 0), 0u);
  EXPECT_EQ(Count(svg, "<circle"), 2u + 1);  // two points and the legend's marker
  EXPECT_EQ(Count(svg, "data-run=\"0\""), 1u);
  EXPECT_EQ(Count(svg, "data-run=\"2\""), 0u);
  EXPECT_EQ(Count(svg, "class=\"errorbar\""), 2u);
  EXPECT_NE(svg.find("t &lt;1&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("NaN"), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);

  plot.log_x = plot.log_y = true;
  plot.badge = "PROJECTION";
  const std::string log_svg = RenderLinePlot(plot);
  EXPECT_NE(log_svg.find(">PROJECTION<"), std::string::npos);
  EXPECT_EQ(log_svg.find("nan"), std::string::npos);
}

TEST(SvgTest, StackedBarsOneRectPerPositiveValue) {
  StackedBars bars;
  bars.categories = {"1S+1W", "1S+2W"};
  bars.components = {"pull", "push"};
  bars.colors = {"#111", "#222"};
  bars.values = {{1, 2}, {3, 0}};
  const std::string svg = RenderStackedBars(bars);
  EXPECT_EQ(Count(svg, "<rect x="), 3u + 1);  // 3 segments and the plot frame
  EXPECT_EQ(Count(svg, "<title>pull"), 2u);
  EXPECT_EQ(Count(svg, "<title>push"), 1u);
  EXPECT_EQ(Count(svg, "class=\"bar\""), 2u);
}

// Throughputs made by the model itself: the fit recovers w, s and C, its
// stated error is ~0, and every point is within it.
TEST(ProjectionTest, FitRecoversThePlantedModel) {
  ModelInputs in;
  in.units_per_step = 1000;
  in.rows_per_step = 1000;
  in.local_cores = 2;
  in.fit_cores = true;
  const double w = 2e-3, s = 1e-3, cores = 1.5;
  std::vector<Measurement> measured;
  for (int servers : {1, 2}) {
    for (int workers : {1, 2, 4}) {
      const double ar = workers > 1 ? 1e-4 * workers : 0;
      measured.push_back(
          {servers, workers, LocalThroughput(w, s, cores, in, servers, workers, ar), ar});
    }
  }
  auto fit = FitModel(measured, in);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_TRUE(fit->identifiable);
  EXPECT_NEAR(fit->worker_s, w, w * 0.02);
  EXPECT_NEAR(fit->server_s, s, s * 0.02);
  EXPECT_NEAR(fit->cores, cores, 0.051);
  EXPECT_LT(fit->max_error, 0.01);
  ASSERT_EQ(fit->error.size(), measured.size());
  for (double e : fit->error) EXPECT_LE(std::fabs(e), fit->max_error + 1e-12);

  // Cross-validation on shapes that never crowd the cores: each shape is
  // predicted by the fit on the others. (With the crowded shapes above,
  // dropping 2S+1W leaves s undetermined, and its held-out error says so.)
  ModelInputs roomy = in;
  roomy.fit_cores = false;
  roomy.local_cores = 16;
  std::vector<Measurement> uncrowded = measured;
  for (Measurement& m : uncrowded) {
    m.throughput = LocalThroughput(w, s, 16, roomy, m.servers, m.workers, m.allreduce_s);
  }
  const std::vector<double> held_out = HeldOutErrors(uncrowded, roomy);
  ASSERT_EQ(held_out.size(), measured.size());
  for (double e : held_out) EXPECT_LT(std::fabs(e), 0.02);

  // More bandwidth never projects less; a 1+1 cluster with a free network
  // runs at the single pair's rate.
  EXPECT_LT(ClusterThroughput(*fit, in, 64, 64, 25), ClusterThroughput(*fit, in, 64, 64, 100));
  in.latency_s = 0;
  EXPECT_NEAR(ClusterThroughput(*fit, in, 1, 1, 1e12), 1000 / (fit->worker_s + fit->server_s), 1.0);
}

// Measured means (bench-ps dim 64, 16384 keys, CURVE, 3 repeats on the 2-core
// VM shared with other jobs): the stated error is the largest of the fitted
// points', and the model with fitted cores explains them within 15%.
TEST(ProjectionTest, StatedErrorCoversEveryFittedPoint) {
  ModelInputs in;
  in.units_per_step = 16384;
  in.rows_per_step = 16384;
  in.local_cores = 2;
  in.fit_cores = true;
  const std::vector<Measurement> measured = {
      {1, 1, 2.013e6, 0}, {1, 2, 2.821e6, 0}, {2, 1, 2.361e6, 0}, {2, 2, 2.465e6, 0}};
  auto fit = FitModel(measured, in);
  ASSERT_TRUE(fit.ok()) << fit.status();
  double worst = 0;
  for (size_t i = 0; i < measured.size(); ++i) {
    const double p =
        LocalThroughput(fit->worker_s, fit->server_s, fit->cores, in, measured[i].servers,
                        measured[i].workers, measured[i].allreduce_s);
    EXPECT_NEAR(p, fit->predicted[i], 1e-6 * p);
    worst = std::max(worst, std::fabs(p / measured[i].throughput - 1));
  }
  EXPECT_DOUBLE_EQ(fit->max_error, worst);
  EXPECT_LT(fit->max_error, 0.15);
  EXPECT_LT(fit->cores, 2);  // the other jobs' share

  // One shape ratio only: w + s is all the fit can know.
  in.fit_cores = false;
  auto same_ratio = FitModel({{1, 1, 80000, 0}}, in);
  ASSERT_TRUE(same_ratio.ok());
  EXPECT_FALSE(same_ratio->identifiable);
  EXPECT_DOUBLE_EQ(same_ratio->worker_s, same_ratio->server_s);
  EXPECT_LT(same_ratio->max_error, 0.01);

  EXPECT_FALSE(FitModel({{1, 1, 0, 0}}, in).ok());
}

std::vector<RunRecord> FakeRuns(double scale, int repeats) {
  std::vector<RunRecord> runs;
  for (int round = 0; round < repeats; ++round) {
    for (int workers : {1, 2}) {
      RunRecord r;
      r.point = ScalePoint{"bench-ps", 1, workers, 16, 1000, "", true};
      r.sweep = "fake";
      r.host = "h";
      r.cores = 2;
      r.run = static_cast<int>(runs.size());
      r.round = round;
      r.ok = true;
      r.throughput = scale * (workers == 1 ? 1e6 : 1.6e6) * (1 + 0.01 * round);
      for (double& p : r.phase_ms) p = 0;
      r.phase_ms[1] = r.phase_ms[3] = 1000.0 * workers / r.throughput * 1e3 / 2;
      r.pull_p50_ms = r.push_p50_ms = 1;
      r.pull_p99_ms = r.push_p99_ms = 2;
      runs.push_back(r);
    }
  }
  return runs;
}

TEST(ReportTest, OneMarkerPerRunAndNothingExternal) {
  std::vector<RunRecord> runs = FakeRuns(1, 2);
  RunRecord failed = runs[0];
  failed.run = 4;
  failed.ok = false;
  failed.throughput = NAN;
  failed.error = "exit code 1";
  runs.push_back(failed);
  ReportOptions options;
  options.title = "fake <sweep>";
  FillProjectionDefaults(&options.projection);
  const std::string html = RenderReport(runs, options);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  for (int run = 0; run < 4; ++run) {
    EXPECT_EQ(Count(html, "data-run=\"" + std::to_string(run) + "\""), 1u) << run;
  }
  EXPECT_EQ(Count(html, "data-run=\"4\""), 0u);  // a failed run has no throughput to draw
  EXPECT_NE(html.find("exit code 1"), std::string::npos);
  EXPECT_NE(html.find("cores shared by every rank of a local run"), std::string::npos);
  EXPECT_NE(html.find("Locally all ranks share C = "), std::string::npos);
  EXPECT_NE(html.find("fake &lt;sweep&gt;"), std::string::npos);
  EXPECT_NE(html.find("Throughput against workers"), std::string::npos);
  EXPECT_EQ(html.find("Throughput against servers"), std::string::npos);  // one server count
  EXPECT_NE(html.find(">PROJECTION<"), std::string::npos);
  EXPECT_NE(html.find("25 Gbit/s links"), std::string::npos);
  EXPECT_NE(html.find("class=\"model-error\""), std::string::npos);
  EXPECT_EQ(Count(html, "<svg "), Count(html, "</svg>"));
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_EQ(html.find("older sweep"), std::string::npos);
}

TEST(ReportTest, CompareOverlaysTheOlderSweep) {
  ReportOptions options;
  options.title = "new";
  FillProjectionDefaults(&options.projection);
  options.compare_path = "old/runs.jsonl";
  options.old_runs = FakeRuns(0.5, 2);
  const std::string html = RenderReport(FakeRuns(1, 2), options);
  EXPECT_NE(html.find("old/runs.jsonl"), std::string::npos);
  EXPECT_NE(html.find("data-name=\"older sweep\""), std::string::npos);
  EXPECT_NE(html.find("older sweep's runs"), std::string::npos);
  // Twice as fast beyond both spreads: marked better, ratio 2.
  EXPECT_NE(html.find("<td class=\"better\">2.000</td>"), std::string::npos);
}

TEST(ReportTest, ClusterRunsShareNoCores) {
  std::vector<RunRecord> runs = FakeRuns(1, 3);
  for (RunRecord& r : runs) r.launcher = "cluster";
  auto back = ParseJsonLine(ToJsonLine(runs[0]), "x:1");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->launcher, "cluster");
  const std::vector<PointSummary> points = Summarize(runs);
  std::vector<const PointSummary*> series;
  for (const PointSummary& p : points) series.push_back(&p);
  Projection projection;
  FillProjectionDefaults(&projection);
  auto model = ModelSeries(series, projection, 2, true);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_FALSE(model->inputs.shared_cores);
  EXPECT_FALSE(model->inputs.fit_cores);
  ReportOptions options;
  options.projection = projection;
  const std::string html = RenderReport(runs, options);
  EXPECT_NE(html.find("on the hosts of a hostfile"), std::string::npos);
  EXPECT_NE(html.find("Measured on separate hosts"), std::string::npos);
}

TEST(ReportTest, SeriesModelReproducesItsPoints) {
  const std::vector<RunRecord> runs = FakeRuns(1, 3);
  const std::vector<PointSummary> points = Summarize(runs);
  std::vector<const PointSummary*> series;
  for (const PointSummary& p : points) series.push_back(&p);
  Projection projection;
  FillProjectionDefaults(&projection);
  auto model = ModelSeries(series, projection, 2, true);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->inputs.units_per_step, 1000);
  EXPECT_EQ(model->inputs.row_bytes, 4 * 16 + 8);
  EXPECT_EQ(model->inputs.dense_bytes, 0);  // bench-ps has no all-reduce
  ASSERT_EQ(model->fit.predicted.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_LE(std::fabs(model->fit.predicted[i] / points[i].mean - 1),
              model->fit.max_error + 1e-12);
  }
}

}  // namespace
}  // namespace metaps::scale
