// Sweep files (defaults, points, rounds, command lines, errors that say
// where) and run records (result lines, JSON lines, summaries).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "launch/scale/runs.h"
#include "launch/scale/sweep.h"

namespace metaps::scale {
namespace {

TEST(SweepTest, DefaultsAndCrossProduct) {
  auto sweep = ParseSweep(R"(
    name: "s"
    grid { workload: "bench-ps" servers: [1, 2] workers: [1, 2, 4] curve: [true, false] }
    grid { workload: "train" workers: [1, 2] consistency: ["bsp", "asp"] }
    train { config: "job.pbtxt" }
  )",
                          "s.pbtxt");
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(sweep->repeats(), 3);
  EXPECT_EQ(sweep->bench_ps().seconds(), 2);
  EXPECT_EQ(sweep->projection().nodes_size(), 6);
  const std::vector<ScalePoint> points = ExpandPoints(*sweep);
  ASSERT_EQ(points.size(), 2u * 3 * 2 + 2 * 2);
  EXPECT_EQ(points[0].workload, "bench-ps");
  EXPECT_EQ(points[0].dim, 64);
  EXPECT_EQ(points[0].batch, 65536);
  EXPECT_TRUE(points[0].curve);
  EXPECT_FALSE(points[1].curve);
  EXPECT_EQ(points[2].workers, 2);
  EXPECT_EQ(points.back().workload, "train");
  EXPECT_EQ(points.back().dim, 0);  // the job's
  EXPECT_EQ(points.back().consistency, "asp");
  EXPECT_EQ(points.back().ShapeLabel(), "1S+2W");
}

TEST(SweepTest, DuplicatePointsRunOnce) {
  auto sweep = ParseSweep(
      "grid { workload: 'bench-ps' workers: [1, 1] }\ngrid { workload: 'bench-ps' }", "d");
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(ExpandPoints(*sweep).size(), 1u);
}

TEST(SweepTest, RoundsRotateTheOrder) {
  EXPECT_EQ(RoundOrder(3, 0), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(RoundOrder(3, 1), (std::vector<int>{1, 2, 0}));
  EXPECT_EQ(RoundOrder(3, 5), (std::vector<int>{2, 0, 1}));
}

TEST(SweepTest, ErrorsNameFileLineAndField) {
  auto bad_workload = ParseSweep("name: 'x'\ngrid {\n  workload: 'bench'\n}\n", "w.pbtxt");
  ASSERT_FALSE(bad_workload.ok());
  EXPECT_NE(bad_workload.status().message().find("w.pbtxt:3:3: grid[0].workload: 'bench' is not"),
            std::string::npos)
      << bad_workload.status().message();

  auto consistency = ParseSweep(
      "grid { workload: 'train' }\ngrid { workload: 'bench-ps'\n workers: [1, 0]\n"
      " consistency: 'bsp' }\ntrain { config: 'j' }",
      "c.pbtxt");
  ASSERT_FALSE(consistency.ok());
  const std::string& m = consistency.status().message();
  EXPECT_NE(m.find("c.pbtxt:3:2: grid[1].workers[1]: must be in 1..65535"), std::string::npos) << m;
  EXPECT_NE(m.find("c.pbtxt:4:2: grid[1].consistency[0]: bench-ps has no worker clocks"),
            std::string::npos)
      << m;

  auto no_config = ParseSweep("grid { workload: 'train' }\nbench_ps { seconds: -1 }", "t.pbtxt");
  ASSERT_FALSE(no_config.ok());
  EXPECT_NE(no_config.status().message().find("t.pbtxt:2:12: bench_ps.seconds: must be positive"),
            std::string::npos)
      << no_config.status().message();
  EXPECT_NE(no_config.status().message().find(
                "t.pbtxt (default value): train.config: a train grid needs"),
            std::string::npos)
      << no_config.status().message();

  auto syntax = ParseSweep("grid { workload: 'bench-ps' }\nrepeat: 2\n", "p.pbtxt");
  ASSERT_FALSE(syntax.ok());
  EXPECT_NE(syntax.status().message().find("p.pbtxt:2:"), std::string::npos)
      << syntax.status().message();
  EXPECT_NE(syntax.status().message().find("repeat"), std::string::npos);

  EXPECT_EQ(LoadSweep("/nonexistent/s.pbtxt").status().code(), StatusCode::kNotFound);
}

TEST(SweepTest, RunCommandLines) {
  auto sweep = ParseSweep(R"(
    grid { workload: "bench-ps" dim: [16] batch: [100] curve: [false] }
    grid { workload: "train" batch: [64] consistency: ["ssp"] }
    bench_ps { seconds: 0.5 extra: "--plan-per-call" }
    train { config: "j" max_steps: 7 set: "training.log_every=0" }
  )",
                          "r");
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  const std::vector<ScalePoint> points = ExpandPoints(*sweep);
  LaunchPaths paths{"/b/metaps", "/src", "", "/cfg/job.pbtxt", "/data"};
  ScalePoint bench = points[0];
  bench.servers = 2;
  bench.workers = 3;
  EXPECT_EQ(RunArgv(*sweep, bench, paths), (std::vector<std::string>{"/src/launch/local.sh",
                                                                     "2",
                                                                     "3",
                                                                     "--",
                                                                     "bench-ps",
                                                                     "--insecure",
                                                                     "--dim",
                                                                     "16",
                                                                     "--keys",
                                                                     "100",
                                                                     "--seconds",
                                                                     "0.5",
                                                                     "--warmup-seconds",
                                                                     "0.5",
                                                                     "--key-space",
                                                                     "10000000",
                                                                     "--dist",
                                                                     "zipf",
                                                                     "--optimizer",
                                                                     "adagrad",
                                                                     "--plan-per-call"}));
  const std::vector<std::string> train = RunArgv(*sweep, points[1], paths);
  const std::vector<std::string> head = {"/src/launch/local.sh",
                                         "1",
                                         "1",
                                         "--",
                                         "train",
                                         "--config",
                                         "/cfg/job.pbtxt",
                                         "--data",
                                         "/data",
                                         "--set",
                                         "data.batch_size=64",
                                         "--set",
                                         "cluster.consistency=ssp",
                                         "--set",
                                         "training.max_steps=7",
                                         "--set",
                                         "training.log_every=0"};
  EXPECT_EQ(train, head);

  auto head_of = [&](size_t n) {
    const std::vector<std::string> argv = RunArgv(*sweep, bench, paths);
    return std::vector<std::string>(argv.begin(), argv.begin() + std::min(n, argv.size()));
  };
  paths.hostfile = "/h/hosts";
  EXPECT_EQ(head_of(6), (std::vector<std::string>{"/src/launch/cluster.sh", "/h/hosts", "2", "3",
                                                  "--", "bench-ps"}));
  sweep->set_launcher("inprocess");
  EXPECT_EQ(head_of(7), (std::vector<std::string>{"/b/metaps", "bench-ps", "--servers", "2",
                                                  "--workers", "3", "--insecure"}));
  sweep->set_launcher("ssh {hostfile}  {bin} x{servers}x");
  EXPECT_EQ(head_of(4), (std::vector<std::string>{"ssh", "/h/hosts", "/b/metaps", "x2x"}));
}

constexpr char kBenchLine[] =
    R"({"bench":"ps","servers":1,"workers":2,"dim":16,"pull_rows_per_s":4000000,)"
    R"("push_rows_per_s":2000000,"pull_p50_ms":0.5,"pull_p99_ms":0.9,"push_p50_ms":1.5,)"
    R"("push_p99_ms":2.5,"table_rows":7})";

TEST(RunsTest, BenchPsResultLine) {
  RunRecord r;
  r.point = ScalePoint{"bench-ps", 1, 2, 16, 1000, "", true};
  ASSERT_TRUE(
      ParseRunOutput(std::string("log line\n{\"not\":1}\n") + kBenchLine + "\nbye\n", &r).ok());
  // One pull + push step of 2 x 1000 keys: 0.5 ms + 1 ms.
  EXPECT_NEAR(r.throughput, 1.0 / (1 / 4e6 + 1 / 2e6), 1e-6);
  EXPECT_NEAR(r.phase_ms[1], 0.5, 1e-9);
  EXPECT_NEAR(r.phase_ms[3], 1.0, 1e-9);
  EXPECT_EQ(r.phase_ms[0], 0);
  EXPECT_NEAR(r.StepMs(), 1.5, 1e-9);
  EXPECT_EQ(r.push_p99_ms, 2.5);
  EXPECT_EQ(r.Unit(), "rows/s");
  EXPECT_EQ(r.result, kBenchLine);
}

TEST(RunsTest, TrainDoneLine) {
  RunRecord r;
  r.point = ScalePoint{"train", 1, 1, 8, 512, "bsp", true};
  const std::string out =
      R"({"event":"progress","samples_per_s":1})"
      "\n"
      R"({"event":"done","steps":100,"samples_per_s":5000.5,"time_s":{"read":0.1,"pull":0.2,)"
      R"("compute":0.3,"push":0.4,"allreduce":0}})";
  ASSERT_TRUE(ParseRunOutput(out, &r).ok());
  EXPECT_EQ(r.throughput, 5000.5);
  EXPECT_NEAR(r.phase_ms[2], 3.0, 1e-9);
  EXPECT_NEAR(r.StepMs(), 10.0, 1e-9);
  EXPECT_TRUE(std::isnan(r.pull_p50_ms));

  RunRecord missing;
  missing.point.workload = "train";
  Status s = ParseRunOutput(kBenchLine, &missing);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("event"), std::string::npos);
}

TEST(RunsTest, JsonLinesRoundTrip) {
  RunRecord r;
  r.point = ScalePoint{"bench-ps", 2, 3, 16, 1000, "", false};
  r.sweep = "s";
  r.run = 4;
  r.round = 1;
  r.ok = true;
  r.wall_s = 1.25;
  ASSERT_TRUE(ParseRunOutput(kBenchLine, &r).ok());
  auto back = ParseJsonLine(ToJsonLine(r), "x:1");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->point.Key(), r.point.Key());
  EXPECT_EQ(back->run, 4);
  EXPECT_EQ(back->round, 1);
  EXPECT_TRUE(back->ok);
  EXPECT_DOUBLE_EQ(back->throughput, r.throughput);
  EXPECT_DOUBLE_EQ(back->phase_ms[3], r.phase_ms[3]);
  EXPECT_EQ(back->push_p50_ms, 1.5);
  EXPECT_NE(back->result.find("\"table_rows\":7"), std::string::npos);

  RunRecord failed;
  failed.point = ScalePoint{"train", 1, 1, 8, 512, "", true};
  failed.error = "exit code 1";
  auto f = ParseJsonLine(ToJsonLine(failed), "x:2");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_FALSE(f->ok);
  EXPECT_TRUE(std::isnan(f->throughput));  // written as null
  EXPECT_EQ(f->error, "exit code 1");

  EXPECT_NE(ParseJsonLine("{\"workload\":1", "runs.jsonl:3")
                .status()
                .message()
                .find("runs.jsonl:3: not a JSON object"),
            std::string::npos);
  EXPECT_NE(ParseJsonLine(R"({"workload":"train","servers":1e30,"workers":1,"dim":8,)"
                          R"("batch":1,"ok":true,"throughput":1})",
                          "r:2")
                .status()
                .message()
                .find("r:2: servers and workers must be numbers in 1..65535"),
            std::string::npos);
  EXPECT_NE(ParseJsonLine(R"({"workload":"bench-ps"})", "r:1")
                .status()
                .message()
                .find("r:1: no \"servers\" field"),
            std::string::npos);
}

TEST(RunsTest, SummaryPerPoint) {
  std::vector<RunRecord> runs(5);
  const double x[5] = {10, 30, 20, 99, 5};
  for (int i = 0; i < 5; ++i) {
    runs[i].point = ScalePoint{"bench-ps", 1, i < 3 ? 1 : 2, 8, 10, "", true};
    runs[i].run = i;
    runs[i].ok = i != 3;
    runs[i].throughput = x[i];
    for (double& p : runs[i].phase_ms) p = i;
  }
  const std::vector<PointSummary> points = Summarize(runs);
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].runs.size(), 3u);
  EXPECT_EQ(points[0].mean, 20);
  EXPECT_EQ(points[0].min, 10);
  EXPECT_EQ(points[0].max, 30);
  EXPECT_EQ(points[0].phase_ms[2], 1);
  EXPECT_EQ(points[1].failed, 1);
  EXPECT_EQ(points[1].mean, 5);
}

}  // namespace
}  // namespace metaps::scale
