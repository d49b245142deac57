// Integration: the shipped MovieLens jobs learn what their formulas allow on
// real data (ml-latest-small from the shared data directory beside the
// checkout), in one process with every role a thread: mf's factors are worth
// clearly more than frozen embeddings, the result does not depend on whether
// the ratings file is sorted by user or shuffled, and ncf matches mf.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "tests/integration/subprocess.h"

namespace metaps {
namespace {

namespace fs = std::filesystem;
using metaps::testing::Env;
using metaps::testing::SplitMetric;
using metaps::testing::Subprocess;

class TrainQualityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (Env("METAPS_BIN").empty() || Env("METAPS_SOURCE_DIR").empty()) return;
    const fs::path movielens =
        fs::path(Env("METAPS_SOURCE_DIR")) / ".." / "shared" / "data" / "ml-latest-small";
    if (!fs::exists(movielens / "ratings.csv")) return;
    sorted_ = new std::string(movielens.string());
    // The same ratings in a seeded random order (the holdout is a hash of
    // (user, item), so both files have the same splits).
    shuffled_ = new std::string(::testing::TempDir() + "/metaps_quality_" +
                                std::to_string(getpid()) + "/ml-shuffled");
    fs::create_directories(*shuffled_);
    fs::copy_file(movielens / "movies.csv", *shuffled_ + "/movies.csv");
    std::ifstream in(movielens / "ratings.csv");
    std::string header, line;
    std::getline(in, header);
    std::vector<std::string> lines;
    while (std::getline(in, line)) lines.push_back(line);
    std::mt19937_64 rng(1);
    std::shuffle(lines.begin(), lines.end(), rng);
    std::ofstream out(*shuffled_ + "/ratings.csv");
    out << header << "\n";
    for (const auto& l : lines) out << l << "\n";
  }
  static void TearDownTestSuite() {
    if (shuffled_ != nullptr && !::testing::UnitTest::GetInstance()->Failed()) {
      fs::remove_all(fs::path(*shuffled_).parent_path());
    }
    delete sorted_;
    delete shuffled_;
    sorted_ = shuffled_ = nullptr;
  }
  void SetUp() override {
    if (Env("METAPS_BIN").empty()) GTEST_SKIP() << "run through ctest";
    if (sorted_ == nullptr)
      GTEST_SKIP() << "../shared/data/ml-latest-small is not beside the checkout";
  }
  // Trains `job` in one process and returns its final JSON line.
  static std::string Train(const std::string& job, const std::string& data,
                           std::vector<std::string> sets = {}) {
    std::vector<std::string> argv = {
        Env("METAPS_BIN"), "train", "--config", Env("METAPS_SOURCE_DIR") + "/launch/jobs/" + job,
        "--data",          data,    "--set",    "training.ranking_k=0"};
    for (const auto& s : sets) {
      argv.push_back("--set");
      argv.push_back(s);
    }
    Subprocess run(argv);
    EXPECT_EQ(run.Wait(), 0) << run.stderr_text();
    return run.stdout_lines().empty() ? "" : run.stdout_lines().back();
  }
  static std::string* sorted_;
  static std::string* shuffled_;
};
std::string* TrainQualityTest::sorted_ = nullptr;
std::string* TrainQualityTest::shuffled_ = nullptr;

// The job that learned only its biases (factors worth 0.005 RMSE with the
// decay applied once per update) fails the second expectation.
TEST_F(TrainQualityTest, MfLearnsFactorsWhateverTheOrderOfTheRatings) {
  const std::string trained = Train("movielens_mf.pbtxt", *sorted_);
  const std::string frozen = Train("movielens_mf.pbtxt", *sorted_, {"embedding.optimizer.lr=0"});
  const std::string shuffled = Train("movielens_mf.pbtxt", *shuffled_);
  const double rmse = SplitMetric(trained, "test", "rmse");
  const double frozen_rmse = SplitMetric(frozen, "test", "rmse");
  const double shuffled_rmse = SplitMetric(shuffled, "test", "rmse");
  ASSERT_GT(rmse, 0) << trained;
  ASSERT_GT(frozen_rmse, 0) << frozen;
  ASSERT_GT(shuffled_rmse, 0) << shuffled;
  EXPECT_LE(rmse, 0.86) << trained;
  EXPECT_LT(rmse, frozen_rmse - 0.01) << "trained " << trained << "\nfrozen " << frozen;
  EXPECT_NEAR(rmse, shuffled_rmse, 0.005) << "sorted " << trained << "\nshuffled " << shuffled;
}

// ncf's GMF (w . (u ⊙ v) + b) on mf's inputs is at least as good as mf: it
// starts as mf (w = 1) and learns w. The shipped ncf once did worse than
// biases alone.
TEST_F(TrainQualityTest, NcfIsAtLeastAsGoodAsMfOnTheSameInputs) {
  const std::string mf = Train("movielens_mf.pbtxt", *sorted_);
  const std::string ncf = Train("movielens_ncf.pbtxt", *sorted_);
  const double mf_rmse = SplitMetric(mf, "test", "rmse");
  const double ncf_rmse = SplitMetric(ncf, "test", "rmse");
  ASSERT_GT(mf_rmse, 0) << mf;
  ASSERT_GT(ncf_rmse, 0) << ncf;
  EXPECT_LE(ncf_rmse, mf_rmse + 0.001) << "mf " << mf << "\nncf " << ncf;
}

// On datagen scenarios, where every scenario's preferences are shifted, the
// shipped multi_scenario job beats deepfm on the scenarios deepfm's one model
// fits worst (the smaller ones), per-scenario metrics say so, and it is not
// worse overall.
TEST_F(TrainQualityTest, MultiScenarioBeatsDeepfmOnTheSmallerScenarios) {
  const std::string data = fs::path(*shuffled_).parent_path().string() + "/scenarios";
  Subprocess gen({Env("METAPS_BIN"), "datagen", "--kind", "scenarios", "--rows", "200000", "--seed",
                  "1", "--out", data});
  ASSERT_EQ(gen.Wait(), 0) << gen.stderr_text();
  const std::string multi = Train("scenarios.pbtxt", data);
  const std::string deepfm =
      Train("scenarios.pbtxt", data, {"model.family=deepfm", "model.num_scenarios=1"});
  EXPECT_GT(SplitMetric(multi, "test", "auc"), SplitMetric(deepfm, "test", "auc")) << multi;
  for (const char* scenario : {"1", "2"}) {
    const std::string key = std::string("\"") + scenario + "\":{";
    const size_t m = multi.find(key, multi.find("\"test\""));
    const size_t d = deepfm.find(key, deepfm.find("\"test\""));
    ASSERT_NE(m, std::string::npos) << multi;
    ASSERT_NE(d, std::string::npos) << deepfm;
    const double multi_auc = SplitMetric(multi.substr(m), scenario, "auc");
    const double deepfm_auc = SplitMetric(deepfm.substr(d), scenario, "auc");
    EXPECT_GT(multi_auc, deepfm_auc + 0.01) << "scenario " << scenario << "\n"
                                            << multi << "\n"
                                            << deepfm;
  }
}

}  // namespace
}  // namespace metaps
