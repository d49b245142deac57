// Integration: `metaps meta-train` on planted ratings (datagen), in one
// process and under mpirun. Meta-learning with the outer update on beats the
// same job with it off (a regression in the outer update fails here), the
// inner loop helps on new users, a rerun gives the same numbers, and an
// mpirun job gives exactly the in-process job's numbers (BSP, fixed seed).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

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
  // Three workers build the same task index (the scheduler checks their
  // digests) and evaluate the same tasks.
  std::vector<std::string> three = {Env("METAPS_BIN"), "meta-train",
                                    "--servers",       "1",
                                    "--workers",       "3",
                                    "--config",        *dir_ + "/meta.pbtxt",
                                    "--data",          *dir_ + "/data",
                                    "--insecure"};
  Subprocess run3(three);
  ASSERT_EQ(run3.Wait(), 0) << run3.stderr_text();
  const std::string test3 = TestLine(run3.stdout_lines());
  std::smatch tasks, tasks3;
  ASSERT_TRUE(std::regex_search(test, tasks, std::regex("\"tasks\":([0-9]+)")));
  ASSERT_TRUE(std::regex_search(test3, tasks3, std::regex("\"tasks\":([0-9]+)")));
  EXPECT_EQ(tasks[1].str(), tasks3[1].str());
  EXPECT_EQ(TestLine(Run({}, /*mpirun=*/true)), test) << "mpirun differs from one process";
}

// Stopped at outer step 150 (its end checkpoint), resumed to 300: the same
// numbers as 300 steps in one go (meta-batches depend on (seed, step) only;
// tables, dense weights and their optimizer state are restored). `export`
// writes the meta-learned model for serving.
TEST_F(MetaTrainTest, ResumeEqualsAnUninterruptedRunAndExports) {
  const std::string whole = TestLine(Run({"output_dir=" + *dir_ + "/whole"}));
  const std::string half = *dir_ + "/half";
  const std::string first = TestLine(Run({"output_dir=" + half, "meta.outer_steps=150"}));
  EXPECT_NE(first, whole);
  EXPECT_TRUE(fs::exists(half + "/checkpoints/worker-state-150.bin"));
  std::vector<std::string> argv = {Env("METAPS_BIN"), "meta-train",
                                   "--servers",       "1",
                                   "--workers",       "2",
                                   "--config",        *dir_ + "/meta.pbtxt",
                                   "--data",          *dir_ + "/data",
                                   "--insecure",      "--resume",
                                   "--set",           "output_dir=" + half};
  Subprocess resumed(argv);
  ASSERT_EQ(resumed.Wait(), 0) << resumed.stderr_text();
  EXPECT_EQ(TestLine(resumed.stdout_lines()), whole);
  EXPECT_NE(resumed.stderr_text().find("resumed at outer step 150"), std::string::npos);

  Subprocess exported({Env("METAPS_BIN"), "export", "--servers", "1", "--config",
                       *dir_ + "/meta.pbtxt", "--data", *dir_ + "/data", "--insecure",
                       "--checkpoint", half + "/checkpoints", "--out", *dir_ + "/export"});
  ASSERT_EQ(exported.Wait(), 0) << exported.stderr_text();
  EXPECT_GT(fs::file_size(*dir_ + "/export/dense.bin"), 0u);
  EXPECT_GT(fs::file_size(*dir_ + "/export/server-0.emb"), 0u);
}

// `metaps adapt` on one meta-test user's ratings (support: all but the last
// 10 by time, query: the last 10) reproduces the job's own adaptation of
// that task bit for bit: the same query metrics, printed round-trip exact.
TEST_F(MetaTrainTest, AdaptEqualsTheInJobAdaptationOfATask) {
  const std::string out = *dir_ + "/adapt-job";
  Run({"output_dir=" + out});
  std::ifstream records(out + "/meta_tasks_test.worker0.jsonl");
  std::string record;
  ASSERT_TRUE(std::getline(records, record)) << "no per-task record";
  std::smatch m;
  ASSERT_TRUE(std::regex_search(record, m, std::regex("\"task\":([0-9]+)"))) << record;
  const std::string user = m[1];
  // The user's ratings from every split, ordered by time (stable).
  std::vector<std::pair<long long, std::string>> rows;
  for (const char* split : {"train", "valid", "test"}) {
    std::ifstream in(*dir_ + "/data/" + split + ".ratings.csv");
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      if (line.compare(0, user.size() + 1, user + ",") != 0) continue;
      rows.emplace_back(std::stoll(line.substr(line.rfind(',') + 1)), line);
    }
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  ASSERT_GT(rows.size(), 10u);
  std::ofstream support(*dir_ + "/support.csv"), query(*dir_ + "/query.csv");
  support << "userId,movieId,rating,timestamp\n";
  query << "userId,movieId,rating,timestamp\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    (i + 10 < rows.size() ? support : query) << rows[i].second << "\n";
  }
  support.close();
  query.close();
  Subprocess adapt({Env("METAPS_BIN"), "adapt", "--config", *dir_ + "/meta.pbtxt", "--data",
                    *dir_ + "/data", "--checkpoint", out + "/checkpoints", "--support",
                    *dir_ + "/support.csv", "--query", *dir_ + "/query.csv", "--out",
                    *dir_ + "/adapted"});
  ASSERT_EQ(adapt.Wait(), 0) << adapt.stderr_text();
  ASSERT_FALSE(adapt.stdout_lines().empty());
  const std::string line = adapt.stdout_lines().back();
  auto object = [](const std::string& text, const std::string& key) {
    std::smatch o;
    if (!std::regex_search(text, o, std::regex("\"" + key + "\":(\\{[^}]*\\})")))
      return std::string();
    return o[1].str();
  };
  EXPECT_FALSE(object(record, "adapted").empty()) << record;
  EXPECT_EQ(object(line, "adapted"), object(record, "adapted")) << line << "\n" << record;
  EXPECT_EQ(object(line, "before"), object(record, "before")) << line << "\n" << record;
  EXPECT_GT(fs::file_size(*dir_ + "/adapted/adapted.emb"), 0u);
  EXPECT_GT(fs::file_size(*dir_ + "/adapted/dense.bin"), 0u);

  // Two users in one support file: refused, naming the file.
  std::ofstream two(*dir_ + "/two.csv");
  two << "userId,movieId,rating,timestamp\n" << rows[0].second << "\n1234567,1,3.0,5\n";
  two.close();
  Subprocess mixed({Env("METAPS_BIN"), "adapt", "--config", *dir_ + "/meta.pbtxt", "--data",
                    *dir_ + "/data", "--checkpoint", out + "/checkpoints", "--support",
                    *dir_ + "/two.csv", "--out", *dir_ + "/adapted2"});
  EXPECT_EQ(mixed.Wait(), 2);
  EXPECT_NE(mixed.stderr_text().find("two.csv: user 1234567 in a task of user " + user),
            std::string::npos)
      << mixed.stderr_text();
}

}  // namespace
}  // namespace metaps
