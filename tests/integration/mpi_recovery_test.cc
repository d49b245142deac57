// Integration: launch/supervise.sh restarts a failed 2 servers + 2 workers job
// from its latest checkpoint. A worker, a server or the scheduler killed with
// SIGKILL after a checkpoint: the job recovers on its own and ends with the
// uninterrupted run's metrics exactly (BSP, fixed seed). A failure that recurs
// without progress stops after one restart; a usage error is not restarted.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "tests/integration/cluster_file.h"
#include "tests/integration/ctr_data_test.h"
#include "tests/integration/subprocess.h"

namespace metaps {
namespace {

using metaps::testing::Env;
using metaps::testing::ReadClusterFile;
using metaps::testing::Subprocess;
using Clock = std::chrono::steady_clock;

// The "split":{...} object of a done line, as printed (numbers are exact).
std::string SplitObject(const std::string& line, const std::string& split) {
  const size_t at = line.find("\"" + split + "\":{");
  if (at == std::string::npos) return "";
  return line.substr(at, line.find('}', at) - at + 1);
}

class MpiRecoveryTest : public metaps::testing::CtrDataTest {
 protected:
  // A 2+2 quick-start job long enough (30 epochs of 24k rows, ~700 steps) to
  // be killed mid-run, checkpointing every 50 steps into `out`.
  std::vector<std::string> Job(const std::string& out, bool supervised,
                               std::vector<std::string> extra = {}) {
    std::vector<std::string> argv;
    if (supervised) {
      argv = {Env("METAPS_SOURCE_DIR") + "/launch/supervise.sh",
              "--max-restarts",
              "3",
              "--backoff",
              "0",
              "--"};
    }
    for (const std::string& a :
         {Env("METAPS_SOURCE_DIR") + "/launch/local.sh", std::string("2"), std::string("2"),
          std::string("--"), std::string("train"), std::string("--config"),
          Env("METAPS_SOURCE_DIR") + "/launch/jobs/quickstart_deepfm.pbtxt", std::string("--data"),
          *dir_ + "/ctr", std::string("--set"), "output_dir=" + out, std::string("--set"),
          std::string("training.epochs=30"), std::string("--set"),
          std::string("training.checkpoint_every=50"), std::string("--set"),
          std::string("training.log_every=0"), std::string("--cluster-file"),
          out + ".cluster.json"}) {
      argv.push_back(a);
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  // The uninterrupted run's done line, computed once.
  const std::string& Reference() {
    static std::string* done = nullptr;
    if (done == nullptr) {
      const auto start = Clock::now();
      Subprocess run(Job(*dir_ + "/reference", /*supervised=*/false));
      EXPECT_EQ(run.Wait(), 0) << run.stderr_text();
      reference_seconds_ = std::chrono::duration<double>(Clock::now() - start).count();
      done = new std::string(run.stdout_lines().empty() ? "" : run.stdout_lines().back());
    }
    return *done;
  }

  // Kills `rank` once the step-100 checkpoint is written; expects recovery to
  // the reference's metrics.
  void KillAndRecover(int rank, const std::string& role) {
    const std::string reference = Reference();
    ASSERT_NE(SplitObject(reference, "test"), "") << reference;
    const std::string out = *dir_ + "/killed-" + role;
    const auto start = Clock::now();
    Subprocess job(Job(out, /*supervised=*/true));
    ASSERT_TRUE(job.WaitForStderr("checkpoint of step 100 written")) << job.stderr_text();
    auto ranks = ReadClusterFile(out + ".cluster.json");
    ASSERT_EQ(ranks[rank].role, role);
    ASSERT_EQ(kill(ranks[rank].pid, SIGKILL), 0);
    ASSERT_EQ(job.Wait(), 0) << job.stderr_text();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const std::string err = job.stderr_text();
    EXPECT_NE(err.find("supervise: restart 1 of 3"), std::string::npos) << err;
    EXPECT_NE(err.find("resumed at step 100"), std::string::npos) << err;
    EXPECT_EQ(err.find("supervise: restart 2"), std::string::npos) << err;
    ASSERT_FALSE(job.stdout_lines().empty());
    const std::string done = job.stdout_lines().back();
    EXPECT_EQ(SplitObject(done, "test"), SplitObject(reference, "test")) << done;
    EXPECT_EQ(SplitObject(done, "valid"), SplitObject(reference, "valid")) << done;
    std::cout << "killed the " << role << " after step 100: " << seconds << " s against "
              << reference_seconds_ << " s uninterrupted\n";
  }
  static inline double reference_seconds_ = 0;
};

TEST_F(MpiRecoveryTest, KilledWorkerRecoversToTheSameMetrics) { KillAndRecover(4, "worker"); }

TEST_F(MpiRecoveryTest, KilledServerRecoversToTheSameMetrics) { KillAndRecover(1, "server"); }

TEST_F(MpiRecoveryTest, KilledSchedulerRecoversToTheSameMetrics) { KillAndRecover(0, "scheduler"); }

// Bad data fails every run at the same line before any checkpoint: the
// supervisor restarts once, sees the same cause, and stops with it.
TEST_F(MpiRecoveryTest, SameFailureTwiceStopsWithItsCause) {
  const std::string bad = *dir_ + "/bad";
  std::filesystem::create_directories(bad);
  {
    std::ifstream in(*dir_ + "/ctr/valid.txt");
    std::ofstream out(bad + "/train.txt");
    std::string line;
    for (int i = 0; i < 50 && std::getline(in, line); ++i) {
      out << (i == 7 ? "not\ta\tcriteo\tline" : line) << "\n";
    }
  }
  std::vector<std::string> argv = {
      Env("METAPS_SOURCE_DIR") + "/launch/supervise.sh",
      "--backoff",
      "0",
      "--",
      Env("METAPS_SOURCE_DIR") + "/launch/local.sh",
      "1",
      "1",
      "--",
      "train",
      "--config",
      Env("METAPS_SOURCE_DIR") + "/launch/jobs/quickstart_deepfm.pbtxt",
      "--data",
      bad,
      "--set",
      "data.format=criteo",
      "--set",
      "data.train=train.txt",
      "--set",
      "output_dir=" + bad + "/out"};
  Subprocess job(argv);
  EXPECT_NE(job.Wait(), 0);
  const std::string err = job.stderr_text();
  EXPECT_NE(err.find("supervise: restart 1 of 3"), std::string::npos) << err;
  EXPECT_EQ(err.find("supervise: restart 2"), std::string::npos) << err;
  EXPECT_NE(err.find("failed the same way twice in a row"), std::string::npos) << err;
  EXPECT_NE(err.find(bad + "/train.txt:8:"), std::string::npos) << err;
}

TEST_F(MpiRecoveryTest, UsageErrorIsNotRestarted) {
  Subprocess job(Job(*dir_ + "/usage", /*supervised=*/true, {"--set", "model.family=dfm"}));
  EXPECT_EQ(job.Wait(), 2);
  const std::string err = job.stderr_text();
  EXPECT_NE(err.find("not restarting a usage error"), std::string::npos) << err;
  EXPECT_EQ(err.find("supervise: restart"), std::string::npos) << err;
}

}  // namespace
}  // namespace metaps
