// Integration: `metaps eval` of one checkpoint with 1 and 2 in-process workers
// prints identical figures, full-protocol ranking included (each worker ranks
// the users it owns against the whole catalog), and counts print as integers.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/integration/subprocess.h"

namespace metaps {
namespace {

using metaps::testing::Env;
using metaps::testing::Subprocess;

constexpr char kJob[] = R"(name: "ranking-workers"
data { format: "datagen-ratings" batch_size: 128 }
model { family: "mf" embedding_dim: 8 loss: "squared" global_bias: 3.5 }
embedding { optimizer { kind: "adam" lr: 0.01 } }
training { epochs: 2 seed: 1 log_every: 0 ranking_k: 10 }
)";

// The JSON object after "split": in the done line.
std::string SplitObject(const std::string& line, const std::string& split) {
  std::smatch m;
  if (!std::regex_search(line, m, std::regex("\"" + split + "\":(\\{[^}]*\\})"))) return "";
  return m[1];
}

TEST(RankingWorkersTest, EvalWithOneAndTwoWorkersIsIdentical) {
  if (Env("METAPS_BIN").empty() || Env("METAPS_SOURCE_DIR").empty()) {
    GTEST_SKIP() << "run through ctest";
  }
  const std::string dir =
      ::testing::TempDir() + "/metaps_ranking_workers_" + std::to_string(getpid());
  Subprocess gen({Env("METAPS_BIN"), "datagen", "--kind", "ratings", "--rows", "6000", "--users",
                  "200", "--items", "400", "--seed", "4", "--out", dir + "/data"});
  ASSERT_EQ(gen.Wait(), 0) << gen.stderr_text();
  const std::string config = dir + "/job.pbtxt";
  std::ofstream(config) << kJob;
  Subprocess train({Env("METAPS_BIN"), "train", "--config", config, "--data", dir + "/data",
                    "--set", "output_dir=" + dir + "/out", "--workers", "1"});
  ASSERT_EQ(train.Wait(), 0) << train.stderr_text();
  const std::string trained = train.stdout_lines().back();
  EXPECT_TRUE(std::regex_search(trained, std::regex("\"samples\":[0-9]+,"))) << trained;

  std::string test[3];
  for (int workers : {1, 2}) {
    for (const char* protocol : {"all_unrated", "sampled"}) {
      Subprocess eval({Env("METAPS_BIN"), "eval", "--config", config, "--data", dir + "/data",
                       "--checkpoint", dir + "/out/checkpoints", "--workers",
                       std::to_string(workers), "--set",
                       std::string("training.ranking_protocol=") + protocol, "--set",
                       "training.ranking_negatives=50"});
      ASSERT_EQ(eval.Wait(), 0) << eval.stderr_text();
      const std::string object = SplitObject(eval.stdout_lines().back(), "test");
      if (std::string(protocol) == "sampled") {
        EXPECT_NE(object.find("\"ranking_protocol\":\"sampled_50\""), std::string::npos) << object;
        continue;
      }
      test[workers] = object;
    }
  }
  EXPECT_NE(test[1].find("\"ranking_protocol\":\"all_unrated\""), std::string::npos) << test[1];
  EXPECT_TRUE(std::regex_search(test[1], std::regex("\"ranked_users\":[1-9][0-9]*,"))) << test[1];
  EXPECT_EQ(test[2], test[1]);  // every figure, digit for digit
  // The eval of the trained model equals what training printed at its end.
  EXPECT_EQ(SplitObject(trained, "test"), test[1]);
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace metaps
