// Integration: `metaps train` under mpirun on datagen data: fixed-seed BSP
// reruns are identical, 2 workers reach the quality of 1, outputs are written,
// and bad configs and bad data fail with messages that say where.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/integration/ctr_data_test.h"
#include "tests/integration/subprocess.h"

namespace metaps {
namespace {

using metaps::testing::Env;
using metaps::testing::ReadFile;
using metaps::testing::SplitMetric;
using metaps::testing::Subprocess;

class MpiTrainTest : public metaps::testing::CtrDataTest {
 protected:
  std::vector<std::string> Train(int workers, std::vector<std::string> extra, int servers = 1) {
    std::vector<std::string> argv = {
        Env("METAPS_SOURCE_DIR") + "/launch/local.sh",
        std::to_string(servers),
        std::to_string(workers),
        "--",
        "train",
        "--config",
        Env("METAPS_SOURCE_DIR") + "/launch/jobs/quickstart_deepfm.pbtxt",
        "--data",
        *dir_ + "/ctr",
        "--set",
        "training.log_every=10"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  // `metaps export` of the checkpoint LATEST points at under out/checkpoints,
  // with `servers` servers: out/serving/server-<i>.emb and dense.bin.
  void Export(const std::string& out, int servers) {
    Subprocess exp({Env("METAPS_SOURCE_DIR") + "/launch/local.sh", std::to_string(servers), "1",
                    "--", "export", "--config",
                    Env("METAPS_SOURCE_DIR") + "/launch/jobs/quickstart_deepfm.pbtxt",
                    "--checkpoint", out + "/checkpoints", "--out", out + "/serving"});
    ASSERT_EQ(exp.Wait(), 0) << exp.stderr_text();
  }

  // The exported tables and dense weights of two runs are equal byte for byte
  // (exports list rows in key order, so equal tables give equal files).
  void ExpectSameExport(const std::string& a, const std::string& b, int servers) {
    std::vector<std::string> files = {"dense.bin"};
    for (int s = 0; s < servers; ++s) files.push_back("server-" + std::to_string(s) + ".emb");
    for (const std::string& name : files) {
      const std::string x = ReadFile(a + "/serving/" + name);
      const std::string y = ReadFile(b + "/serving/" + name);
      EXPECT_GT(x.size(), 1000u) << a << "/serving/" << name;
      size_t first_difference = 0;
      while (first_difference < std::min(x.size(), y.size()) &&
             x[first_difference] == y[first_difference]) {
        ++first_difference;
      }
      EXPECT_TRUE(x == y) << name << ": " << x.size() << " and " << y.size()
                          << " bytes, first difference at byte " << first_difference;
    }
  }
};

// Two servers and two workers: the servers apply each step's pushes in worker
// order, so even order-sensitive Adagrad gives the same numbers every time:
// the same metrics, and the same tables and dense weights, byte for byte.
TEST_F(MpiTrainTest, FixedSeedBspRunsAreIdentical) {
  std::string lines[2];
  const std::string outs[2] = {*dir_ + "/rerun-0", *dir_ + "/rerun-1"};
  for (int run = 0; run < 2; ++run) {
    Subprocess job(Train(2, {"--set", "output_dir=" + outs[run]}, /*servers=*/2));
    ASSERT_EQ(job.Wait(), 0) << job.stderr_text();
    lines[run] = job.stdout_lines().back();
    Export(outs[run], 2);
  }
  ExpectSameExport(outs[0], outs[1], 2);
  for (const char* split : {"valid", "test"}) {
    for (const char* key : {"auc", "logloss", "accuracy"}) {
      EXPECT_EQ(SplitMetric(lines[0], split, key), SplitMetric(lines[1], split, key))
          << split << " " << key;
    }
  }
  // Measured: test AUC 0.7400, valid 0.7315 (3 epochs of the 24,000 training
  // rows; the generator's Bayes-optimal test AUC is 0.797).
  EXPECT_GT(SplitMetric(lines[0], "test", "auc"), 0.72) << lines[0];
  std::smatch a, b;
  ASSERT_TRUE(std::regex_search(lines[0], a, std::regex("\"train_loss\":([0-9.e-]+)")));
  ASSERT_TRUE(std::regex_search(lines[1], b, std::regex("\"train_loss\":([0-9.e-]+)")));
  EXPECT_EQ(a[1], b[1]);
}

// With one worker, BSP pulls most of the next batch's rows while the current
// one computes (only this worker pushes, so nothing changes them meanwhile):
// the numbers equal those of staleness-0 SSP, which pulls every row in its step.
TEST_F(MpiTrainTest, RowPrefetchWithOneWorkerIsExact) {
  Subprocess ahead(Train(1, {"--set", "training.epochs=1"}));
  ASSERT_EQ(ahead.Wait(), 0) << ahead.stderr_text();
  Subprocess in_step(Train(1, {"--set", "training.epochs=1", "--set", "cluster.consistency=ssp",
                               "--set", "cluster.staleness=0"}));
  ASSERT_EQ(in_step.Wait(), 0) << in_step.stderr_text();
  std::smatch m;
  const std::string log = ahead.stderr_text();
  ASSERT_TRUE(
      std::regex_search(log, m, std::regex("rows pulled ahead of their step: (\\d+) of (\\d+)")))
      << log;
  EXPECT_GT(std::stoull(m[1]), std::stoull(m[2]) / 2) << m[0];  // the tail keys: most of them
  EXPECT_EQ(in_step.stderr_text().find("rows pulled ahead"), std::string::npos);
  const std::string a = ahead.stdout_lines().back(), b = in_step.stdout_lines().back();
  for (const char* key : {"auc", "logloss"}) {
    EXPECT_EQ(SplitMetric(a, "test", key), SplitMetric(b, "test", key)) << key;
  }
}

// ASP with two workers: each worker pulls ahead and nobody waits for the
// other; the job still trains every example once and learns.
TEST_F(MpiTrainTest, AspWithTwoWorkersTrains) {
  Subprocess job(Train(2, {"--set", "training.epochs=1", "--set", "cluster.consistency=asp"}));
  ASSERT_EQ(job.Wait(), 0) << job.stderr_text();
  const std::string line = job.stdout_lines().back();
  EXPECT_NE(line.find("\"samples\":24000"), std::string::npos) << line;
  // Measured 0.711 on the 30k-row fixture; a real regression falls below.
  EXPECT_GT(SplitMetric(line, "test", "auc"), 0.69) << line;
  EXPECT_NE(job.stderr_text().find("rows pulled ahead"), std::string::npos);
}

TEST_F(MpiTrainTest, TwoWorkersReachTheQualityOfOne) {
  Subprocess one(Train(1, {"--set", "training.epochs=2"}));
  ASSERT_EQ(one.Wait(), 0) << one.stderr_text();
  Subprocess two(Train(2, {"--set", "training.epochs=2"}));
  ASSERT_EQ(two.Wait(), 0) << two.stderr_text();
  const std::string l1 = one.stdout_lines().back();
  const std::string l2 = two.stdout_lines().back();
  EXPECT_NE(l2.find("\"workers\":2"), std::string::npos);
  // Every example was trained on once per epoch, whatever the worker count.
  EXPECT_NE(l1.find("\"samples\":48000"), std::string::npos) << l1;
  EXPECT_NE(l2.find("\"samples\":48000"), std::string::npos) << l2;
  EXPECT_NEAR(SplitMetric(l2, "test", "auc"), SplitMetric(l1, "test", "auc"), 0.03) << l1 << "\n"
                                                                                    << l2;
  // Distributed evaluation covers every test example exactly once.
  EXPECT_EQ(SplitMetric(l2, "test", "count"), 3000);
  // Measured 0.7308 (1 worker) and 0.7378 (2 workers).
  EXPECT_GT(SplitMetric(l1, "test", "auc"), 0.71) << l1;
  EXPECT_GT(SplitMetric(l2, "test", "auc"), 0.71) << l2;
}

TEST_F(MpiTrainTest, WritesMetricsAndACheckpoint) {
  const std::string out = *dir_ + "/out";
  Subprocess job(Train(1, {"--set", "output_dir=" + out, "--set", "training.eval_every=20"}));
  ASSERT_EQ(job.Wait(), 0) << job.stderr_text();
  const std::string metrics = ReadFile(out + "/metrics.jsonl");
  EXPECT_NE(metrics.find("\"event\":\"progress\""), std::string::npos);
  EXPECT_NE(metrics.find("\"event\":\"eval\",\"split\":\"valid\",\"step\":20,"), std::string::npos);
  EXPECT_NE(metrics.find("\"event\":\"done\""), std::string::npos);
  const std::string manifest = ReadFile(out + "/checkpoints/LATEST");
  EXPECT_FALSE(manifest.empty());

  // `eval` of the final checkpoint scores exactly what training reported.
  const std::string trained = job.stdout_lines().back();
  Subprocess eval({Env("METAPS_SOURCE_DIR") + "/launch/local.sh", "1", "1", "--", "eval",
                   "--config", Env("METAPS_SOURCE_DIR") + "/launch/jobs/quickstart_deepfm.pbtxt",
                   "--data", *dir_ + "/ctr", "--checkpoint", out + "/checkpoints"});
  ASSERT_EQ(eval.Wait(), 0) << eval.stderr_text();
  const std::string evaluated = eval.stdout_lines().back();
  for (const char* key : {"auc", "logloss", "count"}) {
    EXPECT_EQ(SplitMetric(evaluated, "test", key), SplitMetric(trained, "test", key)) << key;
  }

  // `export` writes the serving snapshot: embeddings per server and dense weights.
  Subprocess exp({Env("METAPS_SOURCE_DIR") + "/launch/local.sh", "1", "1", "--", "export",
                  "--config", Env("METAPS_SOURCE_DIR") + "/launch/jobs/quickstart_deepfm.pbtxt",
                  "--checkpoint", out + "/checkpoints", "--out", out + "/serving"});
  ASSERT_EQ(exp.Wait(), 0) << exp.stderr_text();
  EXPECT_GT(ReadFile(out + "/serving/server-0.emb").size(), 1000u);
  EXPECT_EQ(ReadFile(out + "/serving/dense.bin").substr(0, 5), "MPDW1");

  // Distributed evaluation is exact: 2 workers score the same checkpoint to
  // the same numbers as 1 (merged histograms, not averaged AUCs).
  Subprocess eval2({Env("METAPS_SOURCE_DIR") + "/launch/local.sh", "1", "2", "--", "eval",
                    "--config", Env("METAPS_SOURCE_DIR") + "/launch/jobs/quickstart_deepfm.pbtxt",
                    "--data", *dir_ + "/ctr", "--checkpoint", out + "/checkpoints"});
  ASSERT_EQ(eval2.Wait(), 0) << eval2.stderr_text();
  const std::string evaluated2 = eval2.stdout_lines().back();
  for (const char* split : {"valid", "test"}) {
    for (const char* key : {"auc", "logloss", "accuracy", "count"}) {
      EXPECT_EQ(SplitMetric(evaluated2, split, key), SplitMetric(evaluated, split, key))
          << split << " " << key;
    }
  }
}

TEST_F(MpiTrainTest, CriteoAndAvazuSamplesTrainWithoutBadLines) {
  const std::string samples = Env("METAPS_SOURCE_DIR") + "/../shared/data/ctr-samples";
  if (ReadFile(samples + "/criteo_sample.txt").empty()) GTEST_SKIP() << "no " << samples;
  for (const std::string format : {"criteo", "avazu"}) {
    Subprocess job({Env("METAPS_BIN"), "train", "--config",
                    Env("METAPS_SOURCE_DIR") + "/launch/jobs/quickstart_deepfm.pbtxt", "--data",
                    samples, "--set", "data.format=" + format, "--set",
                    "data.train=" + format + "_sample.txt", "--set",
                    "data.test=" + format + "_sample.txt", "--set", "data.batch_size=32"});
    ASSERT_EQ(job.Wait(), 0) << format << job.stderr_text();
    EXPECT_EQ(job.stderr_text().find("malformed"), std::string::npos) << job.stderr_text();
    EXPECT_GT(SplitMetric(job.stdout_lines().back(), "test", "count"), 99) << format;
  }
}

TEST_F(MpiTrainTest, BadConfigValueIsAUsageErrorNamingTheOverride) {
  Subprocess job(Train(1, {"--set", "model.family=dfm"}));
  EXPECT_EQ(job.Wait(), 2);
  EXPECT_NE(job.stderr_text().find("--set model.family=dfm: model.family: 'dfm' is not one of"),
            std::string::npos)
      << job.stderr_text();
}

TEST_F(MpiTrainTest, MalformedDataFailsNamingFileAndLine) {
  const std::string bad = *dir_ + "/bad";
  ASSERT_EQ(system(("mkdir -p " + bad).c_str()), 0);
  {
    std::ifstream in(*dir_ + "/ctr/valid.txt");
    std::ofstream out(bad + "/train.txt");
    std::string line;
    for (int i = 0; i < 50 && std::getline(in, line); ++i) {
      out << (i == 7 ? "not\ta\tcriteo\tline" : line) << "\n";
    }
  }
  Subprocess job({Env("METAPS_SOURCE_DIR") + "/launch/local.sh", "1", "1", "--", "train",
                  "--config", Env("METAPS_SOURCE_DIR") + "/launch/jobs/quickstart_deepfm.pbtxt",
                  "--data", bad, "--set", "data.format=criteo", "--set", "data.train=train.txt"});
  EXPECT_NE(job.Wait(), 0);
  EXPECT_NE(job.stderr_text().find(bad + "/train.txt:8:"), std::string::npos) << job.stderr_text();
  // The scheduler aborts the job with the worker's own error, not with what
  // the others see once it is gone (a dead server).
  const std::regex cause("aborting the job: worker 0 \\(rank 2[^)]*\\) failed: [^\\n]*" + bad +
                         "/train.txt:8:");
  EXPECT_TRUE(std::regex_search(job.stderr_text(), cause)) << job.stderr_text();
  EXPECT_EQ(job.stderr_text().find("is dead"), std::string::npos) << job.stderr_text();
}

}  // namespace
}  // namespace metaps

namespace metaps {
namespace {

// Stopping at step 20 and resuming to 40 gives exactly the uninterrupted run:
// tables, dense weights with their Adam state, and the reader position; the
// exported tables and dense weights are compared byte for byte.
TEST_F(MpiTrainTest, ResumeContinuesLikeAnUninterruptedRun) {
  auto final_line = [&](const std::string& out, int max_steps, bool resume) {
    std::vector<std::string> extra = {"--set", "output_dir=" + out, "--set",
                                      "training.max_steps=" + std::to_string(max_steps)};
    if (resume) extra.push_back("--resume");
    Subprocess job(Train(2, extra));
    EXPECT_EQ(job.Wait(), 0) << job.stderr_text();
    if (resume) {
      EXPECT_NE(job.stderr_text().find("resumed at step 20"), std::string::npos)
          << job.stderr_text();
    }
    return job.stdout_lines().empty() ? std::string() : job.stdout_lines().back();
  };
  const std::string whole = final_line(*dir_ + "/whole", 40, false);
  final_line(*dir_ + "/parts", 20, false);
  const std::string resumed = final_line(*dir_ + "/parts", 40, true);
  // Both checkpoints of step 40 export to the same bytes.
  Export(*dir_ + "/whole", 1);
  Export(*dir_ + "/parts", 1);
  ExpectSameExport(*dir_ + "/whole", *dir_ + "/parts", 1);
  for (const char* key : {"auc", "logloss"}) {
    EXPECT_EQ(SplitMetric(whole, "test", key), SplitMetric(resumed, "test", key)) << key;
  }
  // Measured: test AUC 0.7285 after 40 steps.
  EXPECT_GT(SplitMetric(resumed, "test", "auc"), 0.71) << resumed;
  std::smatch a, b;
  ASSERT_TRUE(std::regex_search(whole, a, std::regex("\"train_loss\":([0-9.e-]+)")));
  ASSERT_TRUE(std::regex_search(resumed, b, std::regex("\"train_loss\":([0-9.e-]+)")));
  EXPECT_EQ(a[1], b[1]);
}

// With shuffling, two runs with the same seed train on the same batches (the
// progress lines up to step 30 match), and a run stopped at step 30, in the
// second epoch (24 steps each), and resumed ends as one that was not stopped.
TEST_F(MpiTrainTest, ShuffledBspRunsRepeatAndResumeLikeAnUninterruptedRun) {
  struct Run {
    std::string last_line, log;
  };
  auto run = [&](const std::string& out, int max_steps, bool resume) {
    std::vector<std::string> extra = {"--set", "data.shuffle_buffer=3000",
                                      "--set", "output_dir=" + out,
                                      "--set", "training.max_steps=" + std::to_string(max_steps)};
    if (resume) extra.push_back("--resume");
    Subprocess job(Train(2, extra));
    EXPECT_EQ(job.Wait(), 0) << job.stderr_text();
    return Run{job.stdout_lines().empty() ? std::string() : job.stdout_lines().back(),
               job.stderr_text()};
  };
  const Run whole = run(*dir_ + "/shuffled-whole", 40, false);
  const Run part = run(*dir_ + "/shuffled-parts", 30, false);
  const Run resumed = run(*dir_ + "/shuffled-parts", 40, true);
  EXPECT_NE(whole.log.find("shuffling the training shard through a pool of 3000 examples"),
            std::string::npos)
      << whole.log;
  EXPECT_NE(resumed.log.find("resumed at step 30"), std::string::npos) << resumed.log;
  for (int step : {10, 20, 30}) {
    std::smatch a, b;
    const std::regex progress("step " + std::to_string(step) + ": loss ([0-9.e-]+)");
    ASSERT_TRUE(std::regex_search(whole.log, a, progress)) << whole.log;
    ASSERT_TRUE(std::regex_search(part.log, b, progress)) << part.log;
    EXPECT_EQ(a[1], b[1]) << "step " << step;
  }
  Export(*dir_ + "/shuffled-whole", 1);
  Export(*dir_ + "/shuffled-parts", 1);
  ExpectSameExport(*dir_ + "/shuffled-whole", *dir_ + "/shuffled-parts", 1);
  for (const char* key : {"auc", "logloss"}) {
    EXPECT_EQ(SplitMetric(whole.last_line, "test", key),
              SplitMetric(resumed.last_line, "test", key))
        << key;
  }
  // Measured: test AUC 0.7277 after 40 shuffled steps.
  EXPECT_GT(SplitMetric(resumed.last_line, "test", "auc"), 0.71) << resumed.last_line;
  std::smatch a, b;
  ASSERT_TRUE(std::regex_search(whole.last_line, a, std::regex("\"train_loss\":([0-9.e-]+)")));
  ASSERT_TRUE(std::regex_search(resumed.last_line, b, std::regex("\"train_loss\":([0-9.e-]+)")));
  EXPECT_EQ(a[1], b[1]);
}

}  // namespace
}  // namespace metaps

namespace metaps {
namespace {

// SIGTERM to the scheduler stops training in order: every worker stops after
// the same step, the job evaluates, checkpoints and exits 0; resume goes on.
TEST_F(MpiTrainTest, SigtermStopsTrainingInOrderAndResumeFinishes) {
  const std::string out = *dir_ + "/stopped";
  const std::string cluster_file = *dir_ + "/stopped-cluster.json";
  Subprocess job(Train(2, {"--set", "training.epochs=200", "--set", "output_dir=" + out,
                           "--cluster-file", cluster_file}));
  ASSERT_TRUE(job.WaitForStderr("step 20: ")) << job.stderr_text();
  const std::string text = ReadFile(cluster_file);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, std::regex("\"rank\":0,[^}]*\"pid\":([0-9]+)"))) << text;
  ASSERT_EQ(kill(static_cast<pid_t>(std::stol(m[1])), SIGTERM), 0);
  ASSERT_EQ(job.Wait(), 0) << job.stderr_text();
  const std::string err = job.stderr_text();
  std::smatch w0, w1;
  ASSERT_TRUE(std::regex_search(
      err, w0, std::regex("worker 0\\] stop requested: stopping after step ([0-9]+)")))
      << err;
  ASSERT_TRUE(std::regex_search(
      err, w1, std::regex("worker 1\\] stop requested: stopping after step ([0-9]+)")))
      << err;
  EXPECT_EQ(w0[1], w1[1]);  // the same step on every worker
  const std::string stopped_at = w0[1];
  EXPECT_NE(job.stdout_lines().back().find("\"steps\":" + stopped_at + ","), std::string::npos);
  EXPECT_FALSE(ReadFile(out + "/checkpoints/worker-state-" + stopped_at + ".bin").empty());

  Subprocess resumed(
      Train(2, {"--set", "training.epochs=200", "--set", "output_dir=" + out, "--set",
                "training.max_steps=" + std::to_string(std::stol(stopped_at) + 5), "--resume"}));
  ASSERT_EQ(resumed.Wait(), 0) << resumed.stderr_text();
  EXPECT_NE(resumed.stderr_text().find("resumed at step " + stopped_at), std::string::npos);
  EXPECT_NE(resumed.stdout_lines().back().find(
                "\"steps\":" + std::to_string(std::stol(stopped_at) + 5) + ","),
            std::string::npos);
}

}  // namespace
}  // namespace metaps
