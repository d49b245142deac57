// Integration: `metaps scale` runs a tiny sweep through launch/local.sh
// (mpirun over loopback): a JSONL line and a report marker per run, the
// projection within its stated error on the shapes it was fitted on, the
// --report-only / --compare path, failed runs, and sweep files with errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>

#include "launch/scale/report.h"
#include "launch/scale/runs.h"
#include "tests/integration/subprocess.h"

namespace metaps {
namespace {

using metaps::testing::Env;
using metaps::testing::ReadFile;
using metaps::testing::Subprocess;

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string Dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/scale_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string WriteSweep(const std::string& dir, const std::string& text) {
  const std::string path = dir + "/sweep.pbtxt";
  std::ofstream(path) << text;
  return path;
}

TEST(MpiScaleTest, TinySweepRecordsAndDrawsEveryRun) {
  const std::string dir = Dir("tiny");
  const std::string sweep = WriteSweep(dir, R"(
name: "tiny"
repeats: 1
grid { workload: "bench-ps" servers: [1] workers: [1, 2] dim: [8] batch: [512] curve: [false] }
grid { workload: "train" servers: [1] workers: [1] curve: [false] }
bench_ps { seconds: 0.2 warmup_seconds: 0.05 key_space: 10000 }
train {
  config: ")" + Env("METAPS_SOURCE_DIR") + R"(/launch/jobs/quickstart_deepfm.pbtxt"
  datagen_rows: 3000
  max_steps: 10
  set: "training.log_every=0"
}
)");
  Subprocess scale({Env("METAPS_BIN"), "scale", "--sweep", sweep, "--out", dir + "/out"});
  ASSERT_EQ(scale.Wait(), 0) << scale.stderr_text();

  auto runs = scale::ReadRunsFile(dir + "/out/runs.jsonl");
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->size(), 3u);
  for (const scale::RunRecord& r : *runs) {
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_GT(r.throughput, 0);
    EXPECT_FALSE(r.result.empty());
    EXPECT_TRUE(std::filesystem::exists(dir + "/out/" + r.log)) << r.log;
  }
  EXPECT_EQ((*runs)[1].point.workers, 2);
  EXPECT_EQ((*runs)[1].Unit(), "rows/s");
  // The train point got the job's dim and batch, and a step breakdown.
  EXPECT_EQ((*runs)[2].point.dim, 8);
  EXPECT_EQ((*runs)[2].point.batch, 512);
  EXPECT_GT((*runs)[2].phase_ms[2], 0);  // compute

  const std::string html = ReadFile(dir + "/out/report.html");
  for (int run = 0; run < 3; ++run) {
    EXPECT_EQ(Count(html, "data-run=\"" + std::to_string(run) + "\""), 1u) << run;
  }
  EXPECT_EQ(Count(html, "data-run=\""), 3u);
  EXPECT_EQ(html.find("<script"), std::string::npos);

  // The projection reproduces the measured points it was fitted on within
  // the error the report states.
  const std::vector<scale::PointSummary> points = scale::Summarize(*runs);
  std::vector<const scale::PointSummary*> bench = {&points[0], &points[1]};
  scale::Projection projection;
  scale::FillProjectionDefaults(&projection);
  auto model = scale::ModelSeries(bench, projection, (*runs)[0].cores, true);
  ASSERT_TRUE(model.ok()) << model.status();
  for (size_t i = 0; i < bench.size(); ++i) {
    EXPECT_LE(std::fabs(model->fit.predicted[i] / bench[i]->mean - 1), model->fit.max_error + 1e-9);
  }
  std::smatch stated;
  ASSERT_TRUE(std::regex_search(html, stated, std::regex("data-max-error=\"([0-9.]+)\"")));
  EXPECT_NEAR(std::stod(stated[1]), model->fit.max_error, 1e-6);

  // The report again from the JSONL alone, overlaid on itself.
  Subprocess again({Env("METAPS_BIN"), "scale", "--report-only", dir + "/out/runs.jsonl",
                    "--compare", dir + "/out/runs.jsonl", "--out", dir + "/again"});
  ASSERT_EQ(again.Wait(), 0) << again.stderr_text();
  const std::string overlaid = ReadFile(dir + "/again/report.html");
  EXPECT_EQ(Count(overlaid, "data-run=\""), 3u);
  EXPECT_NE(overlaid.find("data-name=\"older sweep\""), std::string::npos);
  EXPECT_NE(overlaid.find("<td>1.000</td>"), std::string::npos);  // new / old
}

TEST(MpiScaleTest, FailedRunsAreRecordedAndReported) {
  const std::string dir = Dir("failed");
  // A launcher that fails: `false bench-ps ...` exits 1 without starting anything.
  const std::string sweep =
      WriteSweep(dir, "launcher: 'false'\nrepeats: 2\ngrid { workload: 'bench-ps' }\n");
  Subprocess scale({Env("METAPS_BIN"), "scale", "--sweep", sweep, "--out", dir});
  EXPECT_EQ(scale.Wait(), 1);
  auto runs = scale::ReadRunsFile(dir + "/runs.jsonl");
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_FALSE((*runs)[0].ok);
  EXPECT_NE((*runs)[0].error.find("exit code 1"), std::string::npos) << (*runs)[0].error;
  const std::string html = ReadFile(dir + "/report.html");
  EXPECT_NE(html.find("2 runs (2 failed)"), std::string::npos);
  EXPECT_NE(html.find("No projection"), std::string::npos);
}

TEST(MpiScaleTest, SweepErrorsNameFileLineAndField) {
  const std::string dir = Dir("errors");
  const std::string sweep =
      WriteSweep(dir, "name: 'e'\ngrid {\n  workload: 'bench-ps'\n  dim: [0]\n}\n");
  Subprocess scale({Env("METAPS_BIN"), "scale", "--sweep", sweep, "--out", dir + "/out"});
  EXPECT_EQ(scale.Wait(), 2);
  EXPECT_NE(scale.stderr_text().find(sweep + ":4:3: grid[0].dim[0]: must be in 1..65536"),
            std::string::npos)
      << scale.stderr_text();
  EXPECT_FALSE(std::filesystem::exists(dir + "/out"));

  Subprocess missing({Env("METAPS_BIN"), "scale", "--report-only", dir + "/none.jsonl"});
  EXPECT_EQ(missing.Wait(), 2);
  EXPECT_NE(missing.stderr_text().find("none.jsonl: cannot open"), std::string::npos);

  std::ofstream(dir + "/bad.jsonl") << "{\"workload\":\"bench-ps\",\"servers\":1}\n";
  Subprocess bad({Env("METAPS_BIN"), "scale", "--report-only", dir + "/bad.jsonl"});
  EXPECT_EQ(bad.Wait(), 2);
  EXPECT_NE(bad.stderr_text().find("bad.jsonl:1: no \"workers\" field"), std::string::npos)
      << bad.stderr_text();
}

}  // namespace
}  // namespace metaps
