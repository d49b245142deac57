// `metaps select --plan`: the study's trials as JSON lines and job files. A
// trial's job file trains exactly as the base job with the trial's values
// given by --set; train refuses a job with a search block.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/integration/ctr_data_test.h"

namespace metaps {
namespace {

using metaps::testing::Env;
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
  Subprocess unplanned({Env("METAPS_BIN"), "select", "--config", job});
  EXPECT_EQ(unplanned.Wait(), 2);
  EXPECT_NE(unplanned.stderr_text().find("not built yet"), std::string::npos);
  // A bad parameter is named before anything is written.
  std::ofstream(*dir_ + "/bad.pbtxt")
      << "data { format: \"datagen-ctr\" }\n"
      << "search { param { field: \"model.hiden\" grid: [\"1\"] } }\n";
  Subprocess bad({Env("METAPS_BIN"), "select", "--config", *dir_ + "/bad.pbtxt", "--plan"});
  EXPECT_EQ(bad.Wait(), 2);
  EXPECT_NE(bad.stderr_text().find("bad.pbtxt:2:"), std::string::npos) << bad.stderr_text();
  EXPECT_NE(bad.stderr_text().find("model.hiden"), std::string::npos) << bad.stderr_text();
}

}  // namespace
}  // namespace metaps
