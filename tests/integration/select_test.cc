// `metaps select --plan`: the study's trials as JSON lines and job files. A
// trial's job file trains exactly as the base job with the trial's values
// given by --set; train refuses a job with a search block.
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
using metaps::testing::Subprocess;

class SelectTest : public metaps::testing::CtrDataTest {};

TEST_F(SelectTest, TrialFilesTrainAsTheBaseJobWithTheirValues) {
  const std::string job = *dir_ + "/study.pbtxt";
  std::ofstream(job) << "name: \"study\"\n"
                     << "data { format: \"datagen-ctr\" batch_size: 512 }\n"
                     << "model { family: \"deepfm\" embedding_dim: 8 hidden: [16] }\n"
                     << "dense_optimizer { kind: \"adam\" lr: 0.001 }\n"
                     << "training { epochs: 1 seed: 2 log_every: 0 }\n"
                     << "search {\n"
                     << "  param { field: \"model.hidden\" grid: [\"16\", \"8,4\"] }\n"
                     << "  param { field: \"dense_optimizer.lr\" range { min: 0.0005 max: 0.005 "
                        "scale: \"log\" } }\n"
                     << "  samples: 2\n}\n";
  Subprocess plan(
      {Env("METAPS_BIN"), "select", "--config", job, "--plan", "--out", *dir_ + "/trials"});
  ASSERT_EQ(plan.Wait(), 0) << plan.stderr_text();
  const auto lines = plan.stdout_lines();
  ASSERT_EQ(lines.size(), 5u);  // 2 grid points x 2 samples, then the plan line
  const nlohmann::json last = nlohmann::json::parse(lines.back());
  EXPECT_EQ(last["trials"], 4);
  const nlohmann::json trial = nlohmann::json::parse(lines[3]);
  EXPECT_EQ(trial["trial"], 3);
  EXPECT_EQ(trial["set"]["model.hidden"], "8,4");

  auto train = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {Env("METAPS_BIN"), "train", "--servers", "1",
                                     "--workers",       "1",     "--data",    *dir_ + "/ctr"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Subprocess run(argv);
    EXPECT_EQ(run.Wait(), 0) << run.stderr_text();
    return run.stdout_lines().empty() ? "" : run.stdout_lines().back();
  };
  const std::string from_file = train({"--config", trial["config"].get<std::string>()});
  // The base job (its search block dropped) with the trial's values as --set.
  std::ofstream(*dir_ + "/base.pbtxt")
      << "name: \"study\"\n"
      << "data { format: \"datagen-ctr\" batch_size: 512 }\n"
      << "model { family: \"deepfm\" embedding_dim: 8 hidden: [16] }\n"
      << "dense_optimizer { kind: \"adam\" lr: 0.001 }\n"
      << "training { epochs: 1 seed: 2 log_every: 0 }\n";
  std::vector<std::string> with_sets = {"--config", *dir_ + "/base.pbtxt"};
  for (const auto& [field, value] : trial["set"].items()) {
    with_sets.insert(with_sets.end(), {"--set", field + "=" + value.get<std::string>()});
  }
  const std::string from_sets = train(with_sets);
  ASSERT_NE(from_file.find("\"test\":{"), std::string::npos) << from_file;
  EXPECT_EQ(metaps::testing::SplitMetric(from_file, "test", "auc"),
            metaps::testing::SplitMetric(from_sets, "test", "auc"));
  EXPECT_EQ(metaps::testing::SplitMetric(from_file, "test", "logloss"),
            metaps::testing::SplitMetric(from_sets, "test", "logloss"));

  // train refuses the study's job; select without --plan says what is missing.
  Subprocess refused({Env("METAPS_BIN"), "train", "--servers", "1", "--workers", "1", "--config",
                      job, "--data", *dir_ + "/ctr"});
  EXPECT_EQ(refused.Wait(), 2);
  EXPECT_NE(refused.stderr_text().find("search { ... } is read by select only"), std::string::npos);
  Subprocess unbudgeted({Env("METAPS_BIN"), "select", "--config", job, "--out", *dir_ + "/x"});
  EXPECT_EQ(unbudgeted.Wait(), 2);
  EXPECT_NE(unbudgeted.stderr_text().find("search.max_budget"), std::string::npos);
  // A bad parameter is named before anything is written.
  std::ofstream(*dir_ + "/bad.pbtxt")
      << "data { format: \"datagen-ctr\" }\n"
      << "search { param { field: \"model.hiden\" grid: [\"1\"] } }\n";
  Subprocess bad({Env("METAPS_BIN"), "select", "--config", *dir_ + "/bad.pbtxt", "--plan"});
  EXPECT_EQ(bad.Wait(), 2);
  EXPECT_NE(bad.stderr_text().find("bad.pbtxt:2:"), std::string::npos) << bad.stderr_text();
  EXPECT_NE(bad.stderr_text().find("model.hiden"), std::string::npos) << bad.stderr_text();
}

// A study of 6 trials on 24k training rows, under successive halving.
std::string WriteStudy(const std::string& path) {
  std::ofstream(path) << "name: \"study\"\n"
                      << "data { format: \"datagen-ctr\" batch_size: 256 }\n"
                      << "model { family: \"deepfm\" embedding_dim: 8 hidden: [16] }\n"
                      << "dense_optimizer { kind: \"adam\" lr: 0.001 }\n"
                      << "training { epochs: 1 seed: 2 log_every: 0 }\n"
                      << "search {\n"
                      << "  param { field: \"model.hidden\" grid: [\"16\", \"4\"] }\n"
                      << "  param { field: \"embedding.optimizer.lr\" range { min: 0.01 max: 0.3 "
                         "scale: \"log\" } }\n"
                      << "  samples: 3\n  max_budget: 24000\n}\n";
  return path;
}

// Under mpirun: the study's best trial, retrained from its best.pbtxt in one
// go, reproduces the value the study measured over its rungs (BSP, seeded:
// a promoted trial went on from its own checkpoint exactly).
TEST_F(SelectTest, AStudyUnderMpirunPicksATrialItsJobFileReproduces) {
  const std::string job = WriteStudy(*dir_ + "/mpi-study.pbtxt");
  Subprocess study({Env("METAPS_BIN"), "select", "--config", job, "--data", *dir_ + "/ctr", "--out",
                    *dir_ + "/mpi-study", "--launcher",
                    Env("METAPS_SOURCE_DIR") + "/launch/local.sh 1 1 --"});
  ASSERT_EQ(study.Wait(), 0) << study.stderr_text();
  const auto done = Events(study.stdout_lines(), "select_done");
  ASSERT_EQ(done.size(), 1u) << study.stderr_text();
  EXPECT_EQ(Events(study.stdout_lines(), "leaderboard").size(), 6u);
  EXPECT_LT(done[0]["samples_used"].get<int64_t>(), done[0]["samples_full_grid"].get<int64_t>());
  EXPECT_EQ(done[0]["samples_full_grid"], 6 * 24000);
  EXPECT_TRUE(std::filesystem::exists(*dir_ + "/mpi-study/best-model/dense.bin"));
  // The best trial ran its last rung to max_budget = one epoch of 24k rows.
  EXPECT_EQ(done[0]["rung"], 2);
  Subprocess again({Env("METAPS_BIN"), "train", "--servers", "1", "--workers", "1", "--config",
                    *dir_ + "/mpi-study/best.pbtxt", "--data", *dir_ + "/ctr"});
  ASSERT_EQ(again.Wait(), 0) << again.stderr_text();
  EXPECT_DOUBLE_EQ(metaps::testing::SplitMetric(again.stdout_lines().back(), "valid", "auc"),
                   done[0]["value"].get<double>());
}

// Killed after any decision, a study resumed with --resume makes the
// decisions and reaches the results of one never stopped.
TEST_F(SelectTest, AKilledStudyResumesWithTheSameDecisions) {
  const std::string job = WriteStudy(*dir_ + "/study.pbtxt");
  auto run = [&](const std::string& out, bool resume) {
    std::vector<std::string> argv = {Env("METAPS_BIN"), "select",       "--config", job,
                                     "--data",          *dir_ + "/ctr", "--out",    out};
    if (resume) argv.push_back("--resume");
    return argv;
  };
  Subprocess reference(run(*dir_ + "/reference", false));
  ASSERT_EQ(reference.Wait(), 0) << reference.stderr_text();
  const auto want = Events(reference.stdout_lines(), "leaderboard");
  const auto want_done = Events(reference.stdout_lines(), "select_done");
  ASSERT_EQ(want_done.size(), 1u);

  Subprocess killed(run(*dir_ + "/killed", false));
  ASSERT_TRUE(killed.WaitForStderr("trial 3 rung 0"));
  kill(-killed.pid(), SIGKILL);
  killed.Wait();
  // A study directory is not started twice by accident.
  Subprocess twice(run(*dir_ + "/killed", false));
  EXPECT_EQ(twice.Wait(), 2);
  EXPECT_NE(twice.stderr_text().find("--resume"), std::string::npos);
  Subprocess resumed(run(*dir_ + "/killed", true));
  ASSERT_EQ(resumed.Wait(), 0) << resumed.stderr_text();
  const auto got = Events(resumed.stdout_lines(), "leaderboard");
  const auto got_done = Events(resumed.stdout_lines(), "select_done");
  ASSERT_EQ(got_done.size(), 1u);
  EXPECT_EQ(got, want);
  EXPECT_EQ(got_done[0]["best"], want_done[0]["best"]);
  EXPECT_EQ(got_done[0]["value"], want_done[0]["value"]);
  EXPECT_EQ(got_done[0]["samples_used"], want_done[0]["samples_used"]);
}

// --warm-start: the previous study's best trials come first, the search's
// own follow without repeating them.
TEST_F(SelectTest, AWarmStartedStudyBeginsWithThePreviousBest) {
  const std::string job = WriteStudy(*dir_ + "/warm-study.pbtxt");
  Subprocess first({Env("METAPS_BIN"), "select", "--config", job, "--data", *dir_ + "/ctr", "--out",
                    *dir_ + "/warm-first"});
  ASSERT_EQ(first.Wait(), 0) << first.stderr_text();
  const auto board = Events(first.stdout_lines(), "leaderboard");
  ASSERT_EQ(board.size(), 6u);
  // The same search with another seed, warm-started from the first study.
  Subprocess second({Env("METAPS_BIN"), "select", "--config", job, "--data", *dir_ + "/ctr",
                     "--set", "search.seed=9", "--out", *dir_ + "/warm-second", "--warm-start",
                     *dir_ + "/warm-first"});
  ASSERT_EQ(second.Wait(), 0) << second.stderr_text();
  const std::string err = second.stderr_text();
  // ceil(6 / 3) = 2 trials carried over, best first.
  EXPECT_NE(
      err.find("--warm-start: trial 0 is trial " + std::to_string(board[0]["trial"].get<int>())),
      std::string::npos)
      << err;
  EXPECT_NE(
      err.find("--warm-start: trial 1 is trial " + std::to_string(board[1]["trial"].get<int>())),
      std::string::npos)
      << err;
  const auto board2 = Events(second.stdout_lines(), "leaderboard");
  EXPECT_EQ(board2.size(), 8u);  // 2 carried over + 6 of the new search
  for (const auto& line : board2) {
    if (line["trial"] == 0) EXPECT_EQ(line["set"], board[0]["set"]);
  }
}

// A trial whose training diverges scores no example (metrics 0 over a count
// of 0); it must rank last, not win on a lower-is-better metric.
TEST_F(SelectTest, ADivergedTrialRanksLast) {
  const std::string job = *dir_ + "/diverging.pbtxt";
  std::ofstream(job) << "name: \"diverging\"\n"
                     << "data { format: \"datagen-ctr\" batch_size: 256 }\n"
                     << "model { family: \"deepfm\" embedding_dim: 8 hidden: [8] }\n"
                     << "dense_optimizer { kind: \"sgd\" lr: 0.01 }\n"
                     << "training { epochs: 1 seed: 2 log_every: 0 }\n"
                     << "search {\n"
                     << "  param { field: \"dense_optimizer.lr\" grid: [\"1e30\", \"0.01\"] }\n"
                     << "  max_budget: 4000\n  min_budget: 4000\n  metric: \"logloss\"\n}\n";
  Subprocess study({Env("METAPS_BIN"), "select", "--config", job, "--data", *dir_ + "/ctr", "--out",
                    *dir_ + "/diverging"});
  ASSERT_EQ(study.Wait(), 0) << study.stderr_text();
  EXPECT_NE(study.stderr_text().find("trial 0 (dense_optimizer.lr=1e30) diverged"),
            std::string::npos)
      << study.stderr_text();
  const auto done = Events(study.stdout_lines(), "select_done");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0]["best"], 1);
  const auto board = Events(study.stdout_lines(), "leaderboard");
  ASSERT_EQ(board.size(), 2u);
  EXPECT_EQ(board[0]["trial"], 1);  // best first
  EXPECT_TRUE(board[1]["values"][0].is_null());
}

// In a single-process cluster a worker that fails before it registers (here:
// export of a job whose data is missing) ends the job at once with its cause,
// not after the scheduler's registration timeout.
TEST_F(SelectTest, AnInProcessRankFailingBeforeRegisteringEndsTheJobWithItsCause) {
  const std::string job = Env("METAPS_SOURCE_DIR") + "/launch/jobs/quickstart_deepfm.pbtxt";
  Subprocess train({Env("METAPS_BIN"), "train", "--servers", "1", "--workers", "1", "--config", job,
                    "--data", *dir_ + "/ctr", "--set", "output_dir=" + *dir_ + "/early", "--set",
                    "training.max_steps=2"});
  ASSERT_EQ(train.Wait(), 0) << train.stderr_text();
  Subprocess exported({Env("METAPS_BIN"), "export", "--servers", "1", "--workers", "1", "--config",
                       job, "--set", "data.format=movielens", "--data", *dir_ + "/missing",
                       "--checkpoint", *dir_ + "/early/checkpoints", "--out", *dir_ + "/x"});
  EXPECT_EQ(exported.Wait(), 1);
  const std::string err = exported.stderr_text();
  EXPECT_NE(err.find("aborting the job: worker 0"), std::string::npos) << err;
  EXPECT_NE(err.find("no MovieLens ratings file"), std::string::npos) << err;
  EXPECT_EQ(err.find("did not register"), std::string::npos) << err;
}

}  // namespace
}  // namespace metaps
