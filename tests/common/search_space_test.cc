#include "common/search_space.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "common/job_config.h"

namespace metaps {
namespace {

constexpr char kBase[] = R"(name: "s"
data { format: "datagen-ctr" }
model { family: "deepfm" embedding_dim: 8 hidden: [32, 16] }
dense_optimizer { kind: "adam" lr: 0.001 }
training { epochs: 1 seed: 3 }
)";

StatusOr<std::vector<Trial>> Expand(const std::string& search,
                                    const std::vector<std::string>& overrides = {}) {
  return ExpandTrials(std::string(kBase) + "search {\n" + search + "}\n", "job.pbtxt", overrides);
}

std::string Message(const std::string& search) {
  auto t = Expand(search);
  return t.ok() ? "" : t.status().message();
}

TEST(SearchSpaceTest, GridsCrossInOrderAndEachTrialIsTheJobWithItsValues) {
  auto trials = Expand(R"(param { field: "model.hidden" grid: ["64,32", "16"] }
                          param { field: "dense_optimizer.lr" grid: ["0.01", "0.001", "0.0001"] })");
  ASSERT_TRUE(trials.ok()) << trials.status();
  ASSERT_EQ(trials->size(), 6u);
  EXPECT_EQ((*trials)[0].Describe(), "model.hidden=64,32, dense_optimizer.lr=0.01");
  EXPECT_EQ((*trials)[2].Describe(), "model.hidden=64,32, dense_optimizer.lr=0.0001");
  EXPECT_EQ((*trials)[3].Describe(), "model.hidden=16, dense_optimizer.lr=0.01");
  const config::JobConfig& j = (*trials)[4].job;
  EXPECT_EQ(j.model().hidden_size(), 1);
  EXPECT_EQ(j.model().hidden(0), 16);
  EXPECT_FLOAT_EQ(j.dense_optimizer().lr(), 0.001f);
  EXPECT_FALSE(j.has_search());
  EXPECT_EQ(j.model().embedding_dim(), 8);  // the base job's other fields stay
  for (int i = 0; i < 6; ++i) EXPECT_EQ((*trials)[i].index, i);
}

TEST(SearchSpaceTest, DrawsAreSeededBoundedAndTyped) {
  const std::string search =
      R"(param { field: "dense_optimizer.lr" range { min: 1e-4 max: 1e-2 scale: "log" } }
      param { field: "model.embedding_dim" range { min: 4 max: 16 } }
      param { field: "embedding.optimizer.kind" choice: ["adagrad", "sgd", "adam"] }
      samples: 40)";
  auto a = Expand(search), b = Expand(search), c = Expand(search + "\nseed: 9");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status() << c.status();
  ASSERT_EQ(a->size(), 40u);
  std::set<std::string> kinds;
  bool differs = false;
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].Describe(), (*b)[i].Describe());  // the same seed, the same trials
    differs = differs || (*a)[i].Describe() != (*c)[i].Describe();
    const config::JobConfig& j = (*a)[i].job;
    EXPECT_GE(j.dense_optimizer().lr(), 1e-4f * 0.999f);
    EXPECT_LE(j.dense_optimizer().lr(), 1e-2f * 1.001f);
    EXPECT_GE(j.model().embedding_dim(), 4);
    EXPECT_LE(j.model().embedding_dim(), 16);
    EXPECT_EQ((*a)[i].values[1].second, std::to_string(j.model().embedding_dim()));  // integer
    kinds.insert(j.embedding().optimizer().kind());
  }
  EXPECT_TRUE(differs);
  EXPECT_EQ(kinds.size(), 3u);
  // Log-uniform: about as many draws below 1e-3 as above it.
  int below = 0;
  for (const Trial& t : *a) below += t.job.dense_optimizer().lr() < 1e-3f;
  EXPECT_GT(below, 8);
  EXPECT_LT(below, 32);
}

TEST(SearchSpaceTest, BadParametersAreNamed) {
  EXPECT_NE(Message(R"(param { field: "model.hiden" grid: ["1"] })")
                .find("search.param[0] (model.hiden): not a field a trial can set"),
            std::string::npos);
  EXPECT_NE(Message(R"(param { field: "model" grid: ["1"] })").find("(model): not a field"),
            std::string::npos);
  EXPECT_NE(Message(R"(param { field: "output_dir" grid: ["a"] })").find("not a field"),
            std::string::npos);
  EXPECT_NE(Message(R"(param { field: "model.hidden" grid: ["1"] choice: ["2"] })")
                .find("exactly one of grid, choice or range"),
            std::string::npos);
  EXPECT_NE(Message(R"(param { field: "dense_optimizer.lr" range { min: 0 max: 1 scale: "log" } })")
                .find("a log range needs min > 0"),
            std::string::npos);
  EXPECT_NE(Message(R"(param { field: "model.family" range { min: 0 max: 1 } })")
                .find("a range needs a number field"),
            std::string::npos);
  EXPECT_NE(
      Message(R"(param { field: "model.hidden" grid: ["1"] } samples: 4)").find("search.samples"),
      std::string::npos);
  EXPECT_NE(Message(R"(param { field: "model.hidden" grid: ["1"] }
                       param { field: "model.hidden" grid: ["2"] })")
                .find("searched twice"),
            std::string::npos);
  EXPECT_NE(Message(R"(param { field: "model.hidden" grid: ["1"] } metric: "mrr")")
                .find("search.metric: unknown metric 'mrr'"),
            std::string::npos);
  EXPECT_NE(Message("").find("search.param: a search needs at least one param"), std::string::npos);
  // An error names the file and line of the search block.
  EXPECT_NE(Message(R"(param { field: "x" grid: ["1"] })").find("job.pbtxt:"), std::string::npos);
}

TEST(SearchSpaceTest, AnInvalidTrialNamesItselfAndTheField) {
  // A value the field cannot take, and a combination the job's checks refuse.
  std::string m = Message(R"(param { field: "model.embedding_dim" grid: ["8", "x"] })");
  EXPECT_NE(m.find("search trial 1 (model.embedding_dim=x)"), std::string::npos) << m;
  m = Message(R"(param { field: "dense_optimizer.kind" grid: ["adam", "sgd"] }
                 param { field: "dense_optimizer.beta1" grid: ["0.8"] })");
  EXPECT_NE(m.find("search trial 1 (dense_optimizer.kind=sgd, dense_optimizer.beta1=0.8)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("beta1"), std::string::npos) << m;
  // --set applies to every trial (and a searched field's --set loses to the trial's value).
  auto t = Expand(R"(param { field: "dense_optimizer.lr" grid: ["0.01"] })",
                  {"training.epochs=4", "dense_optimizer.lr=0.5", "search.seed=5"});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)[0].job.training().epochs(), 4);
  EXPECT_FLOAT_EQ((*t)[0].job.dense_optimizer().lr(), 0.01f);
  // A job without a search block has no trials; train refuses one with it (launch).
  EXPECT_FALSE(ExpandTrials(kBase, "job.pbtxt").ok());
}

}  // namespace
}  // namespace metaps
