// Integration: `metaps meta-train` on planted ratings (datagen), in one
// process and under mpirun. Meta-learning with the outer update on beats the
// same job with it off (a regression in the outer update fails here), the
// inner loop helps on new users, a rerun gives the same numbers, and an
// mpirun job gives exactly the in-process job's numbers (BSP, fixed seed).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/subprocess.h"

namespace metaps {
namespace {

namespace fs = std::filesystem;
using metaps::testing::Env;
using metaps::testing::SplitMetric;
using metaps::testing::Subprocess;

class MetaTrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (Env("METAPS_BIN").empty()) return;
    dir_ = new std::string(::testing::TempDir() + "/metaps_meta_" + std::to_string(getpid()));
    fs::create_directories(*dir_);
    Subprocess gen({Env("METAPS_BIN"), "datagen", "--kind", "ratings", "--rows", "12000", "--seed",
                    "3", "--out", *dir_ + "/data"});
    ASSERT_EQ(gen.Wait(), 0) << gen.stderr_text();
    std::ofstream job(*dir_ + "/meta.pbtxt");
    job << R"(name: "meta-test"
data { format: "datagen-ratings" }
model { family: "mf" embedding_dim: 8 loss: "squared" global_bias: 3.5 }
embedding { initializer: "normal" init_scale: 0.1 optimizer { kind: "sgd" lr: 1 } }
linear { initializer: "zeros" optimizer { kind: "sgd" lr: 0.3 } }
dense_optimizer { kind: "adam" lr: 0.01 }
training { seed: 2 log_every: 0 }
meta {
  task_by: "user" query: 10 min_task_size: 20 max_task_size: 0
  valid_fraction: 0.15 test_fraction: 0.15
  tasks_per_step: 16 inner_steps: 10 inner_lr: 0.05 outer_steps: 300
}
)";
  }
  static void TearDownTestSuite() {
    if (dir_ != nullptr && !::testing::UnitTest::GetInstance()->Failed()) fs::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (Env("METAPS_BIN").empty()) GTEST_SKIP() << "run through ctest";
  }
  // The job's stdout lines; `launcher` empty: one process.
  static std::vector<std::string> Run(std::vector<std::string> sets, bool mpirun = false) {
    std::vector<std::string> argv;
    if (mpirun) {
      argv = {Env("METAPS_SOURCE_DIR") + "/launch/local.sh", "1", "2", "--", "meta-train"};
    } else {
      argv = {Env("METAPS_BIN"), "meta-train", "--servers", "1", "--workers", "2"};
    }
    for (const std::string& a :
         {std::string("--config"), *dir_ + "/meta.pbtxt", std::string("--data"), *dir_ + "/data",
          std::string("--insecure")}) {
      argv.push_back(a);
    }
    for (const auto& s : sets) {
      argv.push_back("--set");
      argv.push_back(s);
    }
    Subprocess run(argv);
    EXPECT_EQ(run.Wait(), 0) << run.stderr_text();
    return run.stdout_lines();
  }
  static std::string TestLine(const std::vector<std::string>& lines) {
    for (const auto& l : lines) {
      if (l.find("\"event\":\"meta_eval\"") != std::string::npos &&
          l.find("\"split\":\"test\"") != std::string::npos) {
        return l;
      }
    }
    ADD_FAILURE() << "no meta_eval line for test";
    return "";
  }
  static std::string* dir_;
};
std::string* MetaTrainTest::dir_ = nullptr;

TEST_F(MetaTrainTest, OuterUpdateLearnsAndRerunsAndMpirunAgree) {
  const auto lines = Run({});
  const std::string test = TestLine(lines);
  const double before = SplitMetric(test, "before", "mae");
  const double adapted = SplitMetric(test, "adapted", "mae");
  ASSERT_GT(before, 0) << test;
  ASSERT_GT(adapted, 0) << test;
  EXPECT_LT(adapted, before) << "adapting on the support set did not help: " << test;
  EXPECT_NE(lines.back().find("\"event\":\"done\""), std::string::npos) << lines.back();

  // The same job with the outer update off: tables and dense weights frozen.
  const std::string frozen =
      TestLine(Run({"embedding.optimizer.lr=0", "linear.optimizer.lr=0", "dense_optimizer.lr=0"}));
  const double frozen_adapted = SplitMetric(frozen, "adapted", "mae");
  EXPECT_LT(adapted, frozen_adapted - 0.03) << test << "\n" << frozen;

  EXPECT_EQ(TestLine(Run({})), test) << "a rerun with the same seed differs";
  EXPECT_EQ(TestLine(Run({}, /*mpirun=*/true)), test) << "mpirun differs from one process";
}

}  // namespace
}  // namespace metaps
