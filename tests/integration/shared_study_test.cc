// `metaps select --shared-cluster`: a study as one cluster job, every trial
// in its own table namespace on the same servers, worker groups training
// trials side by side. Each trial's numbers equal those of the trial run
// alone as a plain job (BSP, fixed seeds); the best trial's export equals
// that plain job's export byte for byte; the servers hold no table after the
// study; a killed study resumes with the same decisions.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/integration/ctr_data_test.h"

namespace metaps {
namespace {

using metaps::testing::Env;
using metaps::testing::Events;
using metaps::testing::ReadFile;
using metaps::testing::Subprocess;

class SharedStudyTest : public metaps::testing::CtrDataTest {};

// Four trials: two embedding dims x two embedding optimizers, one rung (a
// grid run to completion) of 6000 examples.
std::string WriteGrid(const std::string& path) {
  std::ofstream(path) << "name: \"grid\"\n"
                      << "data { format: \"datagen-ctr\" batch_size: 256 }\n"
                      << "model { family: \"deepfm\" embedding_dim: 8 hidden: [16] }\n"
                      << "dense_optimizer { kind: \"adam\" lr: 0.002 }\n"
                      << "training { epochs: 1 seed: 4 log_every: 0 }\n"
                      << "search {\n"
                      << "  param { field: \"model.embedding_dim\" grid: [\"4\", \"12\"] }\n"
                      << "  param { field: \"embedding.optimizer.kind\" grid: [\"adagrad\", "
                         "\"adam\"] }\n"
                      << "  min_budget: 6000\n  max_budget: 6000\n}\n";
  return path;
}

// Trials with different dims and optimizers, trained two at a time on one
// server, give exactly the validation metrics each gives as a job of its own.
TEST_F(SharedStudyTest, TrialsSideBySideEqualEachTrialRunAlone) {
  const std::string job = WriteGrid(*dir_ + "/grid.pbtxt");
  Subprocess study({Env("METAPS_BIN"), "select", "--shared-cluster", "--servers", "1", "--workers",
                    "2", "--group-workers", "1", "--config", job, "--data", *dir_ + "/ctr", "--out",
                    *dir_ + "/grid"});
  ASSERT_EQ(study.Wait(), 0) << study.stderr_text();
  const auto board = Events(study.stdout_lines(), "leaderboard");
  ASSERT_EQ(board.size(), 4u) << study.stderr_text();
  const auto done = Events(study.stdout_lines(), "select_done");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0]["mode"], "shared-cluster");
  EXPECT_EQ(done[0]["worker_groups"], 2);
  ASSERT_EQ(done[0]["server_memory"].size(), 1u);
  EXPECT_EQ(done[0]["server_memory"][0]["tables_left"], 0);
  const int64_t steps = (6000 + 255) / 256;
  for (const auto& line : board) {
    const int t = line["trial"].get<int>();
    Subprocess alone({Env("METAPS_BIN"), "train", "--servers", "1", "--workers", "1", "--config",
                      *dir_ + "/grid/trials/trial-" + std::to_string(t) + ".pbtxt", "--data",
                      *dir_ + "/ctr", "--set", "training.max_steps=" + std::to_string(steps),
                      "--set", "training.epochs=1000000"});
    ASSERT_EQ(alone.Wait(), 0) << alone.stderr_text();
    EXPECT_DOUBLE_EQ(metaps::testing::SplitMetric(alone.stdout_lines().back(), "valid", "auc"),
                     line["values"][0].get<double>())
        << "trial " << t << " " << line["set"].dump();
  }
}

// A study of 6 trials on 24k training rows, under successive halving.
std::string WriteStudy(const std::string& path, bool asynchronous) {
  std::ofstream(path) << "name: \"study\"\n"
                      << "data { format: \"datagen-ctr\" batch_size: 256 }\n"
                      << "model { family: \"deepfm\" embedding_dim: 8 hidden: [16] }\n"
                      << "dense_optimizer { kind: \"adam\" lr: 0.001 }\n"
                      << "training { epochs: 1 seed: 2 log_every: 0 }\n"
                      << "search {\n"
                      << "  param { field: \"model.hidden\" grid: [\"16\", \"4\"] }\n"
                      << "  param { field: \"embedding.optimizer.lr\" range { min: 0.01 max: 0.3 "
                         "scale: \"log\" } }\n"
                      << "  samples: 3\n  max_budget: 24000\n"
                      << (asynchronous ? "" : "  asynchronous: false\n") << "}\n";
  return path;
}

// Under mpirun, 4 workers in 2 groups of 2 (each group's own all-reduce and
// BSP aggregation on the servers): the best trial's job file, trained alone
// on 2 workers, reproduces the study's value, and its export is the study's
// best-model byte for byte.
TEST_F(SharedStudyTest, UnderMpirunGroupsOfTwoPickATrialItsJobFileReproduces) {
  const std::string job = WriteStudy(*dir_ + "/mpi.pbtxt", /*asynchronous=*/true);
  Subprocess study({Env("METAPS_SOURCE_DIR") + "/launch/local.sh", "2", "4", "--", "select",
                    "--shared-cluster", "--group-workers", "2", "--config", job, "--data",
                    *dir_ + "/ctr", "--out", *dir_ + "/mpi"});
  ASSERT_EQ(study.Wait(), 0) << study.stderr_text();
  const auto done = Events(study.stdout_lines(), "select_done");
  ASSERT_EQ(done.size(), 1u) << study.stderr_text();
  const auto board = Events(study.stdout_lines(), "leaderboard");
  ASSERT_EQ(board.size(), 6u);
  EXPECT_LT(done[0]["samples_used"].get<int64_t>(), done[0]["samples_full_grid"].get<int64_t>());
  ASSERT_EQ(done[0]["server_memory"].size(), 2u);
  for (const auto& server : done[0]["server_memory"]) EXPECT_EQ(server["tables_left"], 0);
  // ASHA's promotions depend on the order in which the two groups finish
  // rungs: the best trial's budget is what the leaderboard says it had.
  ASSERT_EQ(board[0]["trial"], done[0]["best"]);
  const int64_t steps = (board[0]["examples"].get<int64_t>() + 511) / 512;
  Subprocess again({Env("METAPS_BIN"), "train", "--servers", "2", "--workers", "2", "--config",
                    *dir_ + "/mpi/best.pbtxt", "--data", *dir_ + "/ctr", "--set",
                    "output_dir=" + *dir_ + "/again", "--set",
                    "training.max_steps=" + std::to_string(steps), "--set",
                    "training.epochs=1000000"});
  ASSERT_EQ(again.Wait(), 0) << again.stderr_text();
  EXPECT_DOUBLE_EQ(metaps::testing::SplitMetric(again.stdout_lines().back(), "valid", "auc"),
                   done[0]["value"].get<double>());
  Subprocess exported({Env("METAPS_BIN"), "export", "--servers", "2", "--workers", "1", "--config",
                       *dir_ + "/mpi/best.pbtxt", "--data", *dir_ + "/ctr", "--checkpoint",
                       *dir_ + "/again/checkpoints", "--out", *dir_ + "/again-model"});
  ASSERT_EQ(exported.Wait(), 0) << exported.stderr_text();
  for (const char* file : {"server-0.emb", "server-1.emb", "dense.bin"}) {
    const std::string want = ReadFile(*dir_ + "/again-model/" + file);
    EXPECT_FALSE(want.empty()) << file;
    EXPECT_TRUE(ReadFile(*dir_ + "/mpi/best-model/" + file) == want) << file;
  }
}

// Synchronous halving with two worker groups decides the same on every run
// (a rung's survivors are chosen once it is complete, whatever order its
// trials finished in); killed mid-study and resumed, the study reaches the
// leaderboard of one never stopped, retraining from scratch the trials whose
// tables the kill lost.
TEST_F(SharedStudyTest, AKilledStudyResumesWithTheSameDecisions) {
  const std::string job = WriteStudy(*dir_ + "/sync.pbtxt", /*asynchronous=*/false);
  auto run = [&](const std::string& out, bool resume) {
    std::vector<std::string> argv = {Env("METAPS_BIN"),
                                     "select",
                                     "--shared-cluster",
                                     "--workers",
                                     "2",
                                     "--config",
                                     job,
                                     "--data",
                                     *dir_ + "/ctr",
                                     "--out",
                                     out,
                                     "--group-workers",
                                     "1"};
    if (resume) argv.push_back("--resume");
    return argv;
  };
  Subprocess reference(run(*dir_ + "/reference", false));
  ASSERT_EQ(reference.Wait(), 0) << reference.stderr_text();
  const auto want = Events(reference.stdout_lines(), "leaderboard");
  const auto want_done = Events(reference.stdout_lines(), "select_done");
  ASSERT_EQ(want_done.size(), 1u);

  Subprocess killed(run(*dir_ + "/killed", false));
  ASSERT_TRUE(killed.WaitForStderr("trial 4 rung 0"));
  kill(-killed.pid(), SIGKILL);
  killed.Wait();
  ASSERT_TRUE(Events(killed.stdout_lines(), "select_done").empty());
  Subprocess resumed(run(*dir_ + "/killed", true));
  ASSERT_EQ(resumed.Wait(), 0) << resumed.stderr_text();
  // The promoted trials' tables died with the killed run.
  EXPECT_NE(resumed.stderr_text().find("has no tables on the servers"), std::string::npos)
      << resumed.stderr_text();
  const auto got = Events(resumed.stdout_lines(), "leaderboard");
  const auto got_done = Events(resumed.stdout_lines(), "select_done");
  ASSERT_EQ(got_done.size(), 1u);
  EXPECT_EQ(got, want);
  EXPECT_EQ(got_done[0]["best"], want_done[0]["best"]);
  EXPECT_EQ(got_done[0]["value"], want_done[0]["value"]);
  for (const char* file : {"server-0.emb", "dense.bin"}) {
    const std::string want = ReadFile(*dir_ + "/reference/best-model/" + file);
    EXPECT_FALSE(want.empty()) << file;
    EXPECT_TRUE(ReadFile(*dir_ + "/killed/best-model/" + file) == want) << file;
  }
}

// ASHA with one group decides the same on every run. With four rungs and six
// trials no trial climbs to the last rung, so the study ends by stopping its
// best trial. Killed and resumed, the study retrains the promoted trials whose
// tables the kill lost; resumed once it is over, it rebuilds the best trial's
// tables for the export once (and ends) instead of dropping them as settled.
TEST_F(SharedStudyTest, AKilledAshaStudyWhoseBestStoppedBelowTheTopResumes) {
  const std::string job = WriteStudy(*dir_ + "/asha.pbtxt", /*asynchronous=*/true);
  auto run = [&](const std::string& out, bool resume) {
    std::vector<std::string> argv = {
        Env("METAPS_BIN"),       "select", "--shared-cluster", "--config", job, "--set",
        "search.min_budget=888", "--data", *dir_ + "/ctr",     "--out",    out};
    if (resume) argv.push_back("--resume");
    return argv;
  };
  Subprocess reference(run(*dir_ + "/asha-reference", false));
  ASSERT_EQ(reference.Wait(), 0) << reference.stderr_text();
  const auto want = Events(reference.stdout_lines(), "leaderboard");
  const auto want_done = Events(reference.stdout_lines(), "select_done");
  ASSERT_EQ(want_done.size(), 1u);
  EXPECT_LT(want_done[0]["rung"].get<int>(), 3);  // below the last rung

  Subprocess killed(run(*dir_ + "/asha-killed", false));
  ASSERT_TRUE(killed.WaitForStderr("trial 5 rung 0"));
  kill(-killed.pid(), SIGKILL);
  killed.Wait();
  ASSERT_TRUE(Events(killed.stdout_lines(), "select_done").empty());
  Subprocess resumed(run(*dir_ + "/asha-killed", true));
  ASSERT_EQ(resumed.Wait(), 0) << resumed.stderr_text();
  EXPECT_NE(resumed.stderr_text().find("has no tables on the servers"), std::string::npos);
  EXPECT_EQ(Events(resumed.stdout_lines(), "leaderboard"), want);
  const auto got_done = Events(resumed.stdout_lines(), "select_done");
  ASSERT_EQ(got_done.size(), 1u);
  EXPECT_EQ(got_done[0]["best"], want_done[0]["best"]);
  EXPECT_EQ(got_done[0]["value"], want_done[0]["value"]);
  for (const char* file : {"server-0.emb", "dense.bin"}) {
    const std::string want_file = ReadFile(*dir_ + "/asha-reference/best-model/" + file);
    EXPECT_FALSE(want_file.empty()) << file;
    EXPECT_TRUE(ReadFile(*dir_ + "/asha-killed/best-model/" + file) == want_file) << file;
  }
  // The finished study resumed: nothing to run but the best trial's rebuild.
  Subprocess again(run(*dir_ + "/asha-reference", true));
  ASSERT_EQ(again.Wait(), 0) << again.stderr_text();
  EXPECT_NE(again.stderr_text().find("trial " + want_done[0]["best"].dump() +
                                     " has no tables on the servers"),
            std::string::npos)
      << again.stderr_text();
  const auto again_done = Events(again.stdout_lines(), "select_done");
  ASSERT_EQ(again_done.size(), 1u);
  EXPECT_EQ(again_done[0]["best"], want_done[0]["best"]);
  EXPECT_TRUE(ReadFile(*dir_ + "/asha-reference/best-model/server-0.emb") ==
              ReadFile(*dir_ + "/asha-killed/best-model/server-0.emb"));
}

TEST_F(SharedStudyTest, UsageErrorsAreRefusedBeforeAnythingRuns) {
  const std::string job = WriteGrid(*dir_ + "/usage.pbtxt");
  Subprocess uneven({Env("METAPS_BIN"), "select", "--shared-cluster", "--workers", "3",
                     "--group-workers", "2", "--config", job, "--data", *dir_ + "/ctr", "--out",
                     *dir_ + "/uneven"});
  EXPECT_EQ(uneven.Wait(), 2);
  EXPECT_NE(uneven.stderr_text().find("do not divide the 3 workers"), std::string::npos)
      << uneven.stderr_text();
  Subprocess ssp({Env("METAPS_BIN"), "select", "--shared-cluster", "--config", job, "--set",
                  "cluster.consistency=asp", "--data", *dir_ + "/ctr", "--out", *dir_ + "/ssp"});
  EXPECT_EQ(ssp.Wait(), 2);
  EXPECT_NE(ssp.stderr_text().find("cluster.consistency must be bsp"), std::string::npos)
      << ssp.stderr_text();
  Subprocess groups({Env("METAPS_BIN"), "select", "--group-workers", "2", "--config", job, "--data",
                     *dir_ + "/ctr", "--out", *dir_ + "/groups"});
  EXPECT_EQ(groups.Wait(), 2);
  EXPECT_NE(groups.stderr_text().find("--group-workers needs --shared-cluster"), std::string::npos);
}

}  // namespace
}  // namespace metaps
