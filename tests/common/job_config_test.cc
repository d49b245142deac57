// Job config: defaults, overrides, and errors that say file:line:column.
#include "common/job_config.h"

#include <gtest/gtest.h>

namespace metaps {
namespace {

constexpr char kJob[] = R"(name: "ctr"
data {
  format: "criteo"
  train: "train.txt"
  batch_size: 512
}
model {
  family: "deepfm"
  hidden: [64, 32]
}
)";

TEST(JobConfigTest, ParsesAndFillsDefaults) {
  auto job = ParseJobConfig(kJob, "job.pbtxt");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->data().batch_size(), 512);
  EXPECT_EQ(job->model().hidden_size(), 2);
  EXPECT_EQ(job->cluster().servers(), 1);
  EXPECT_EQ(job->cluster().consistency(), "bsp");
  EXPECT_EQ(job->model().loss(), "logistic");
  EXPECT_EQ(job->model().embedding_dim(), 16);
  EXPECT_EQ(job->embedding().optimizer().kind(), "adagrad");
  EXPECT_EQ(job->dense_optimizer().kind(), "adam");
  EXPECT_EQ(job->training().epochs(), 1);
  EXPECT_EQ(job->data().reader_threads(), 1);
  EXPECT_EQ(job->data().shuffle_buffer(), 0);  // file order
  // The printed config parses back to the same thing.
  auto again = ParseJobConfig(JobConfigToText(*job), "printed");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->SerializeAsString(), job->SerializeAsString());
}

TEST(JobConfigTest, UnknownFieldNamesFileLineAndColumn) {
  std::string text = kJob;
  text.replace(text.find("batch_size"), 10, "batch_sise");
  auto job = ParseJobConfig(text, "job.pbtxt");
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.status().message().find("job.pbtxt:5:"), std::string::npos) << job.status();
  EXPECT_NE(job.status().message().find("batch_sise"), std::string::npos);
}

TEST(JobConfigTest, BadValuesNameTheirPlace) {
  std::string text = kJob;
  text.replace(text.find("\"deepfm\""), 8, "\"dfm\"");
  text += "training { epochs: -2 }\n";
  auto job = ParseJobConfig(text, "job.pbtxt");
  ASSERT_FALSE(job.ok());
  const std::string& m = job.status().message();
  EXPECT_NE(
      m.find("job.pbtxt:8:3: model.family: 'dfm' is not one of deepfm, mf, multi_scenario, ncf"),
      std::string::npos)
      << m;
  EXPECT_NE(m.find("job.pbtxt:11:12: training.epochs: must be at least 1"), std::string::npos) << m;
}

TEST(JobConfigTest, OverridesFromTheCommandLine) {
  auto job = ParseJobConfig(kJob, "job.pbtxt",
                            {"training.epochs=3", "model.hidden=8,4,2", "data.format=avazu",
                             "cluster.consistency=ssp", "cluster.staleness=2"});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->training().epochs(), 3);
  ASSERT_EQ(job->model().hidden_size(), 3);
  EXPECT_EQ(job->model().hidden(2), 2);
  EXPECT_EQ(job->data().format(), "avazu");
  EXPECT_EQ(job->cluster().staleness(), 2);

  auto bad_path = ParseJobConfig(kJob, "job.pbtxt", {"model.famly=mf"});
  EXPECT_NE(bad_path.status().message().find("metaps.config.ModelConfig has no field 'famly'"),
            std::string::npos)
      << bad_path.status();
  auto bad_value = ParseJobConfig(kJob, "job.pbtxt", {"training.epochs=many"});
  EXPECT_NE(bad_value.status().message().find("'many' is not a valid"), std::string::npos);
  auto bad_choice = ParseJobConfig(kJob, "job.pbtxt", {"model.loss=hinge"});
  EXPECT_NE(bad_choice.status().message().find("--set model.loss=hinge: model.loss"),
            std::string::npos)
      << bad_choice.status();
}

// l1/l2 are FTRL's; on another optimizer they would be silently ignored.
TEST(JobConfigTest, L2OnAdagradIsAnErrorNotIgnored) {
  std::string text = kJob;
  text += "embedding {\n  optimizer { kind: \"adagrad\" l2: 0.001 }\n}\n";
  auto job = ParseJobConfig(text, "job.pbtxt");
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.status().message().find(
                "job.pbtxt:12:31: embedding.optimizer.l2: applies to ftrl only; use weight_decay"),
            std::string::npos)
      << job.status();
  text.replace(text.find("\"adagrad\""), 9, "\"ftrl\"");
  EXPECT_TRUE(ParseJobConfig(text, "job.pbtxt").ok());
}

TEST(JobConfigTest, ReaderThreadsAreBetweenOneAnd64) {
  std::string text = kJob;
  text.replace(text.find("  batch_size"), 0, "  reader_threads: 65\n");
  auto job = ParseJobConfig(text, "job.pbtxt");
  ASSERT_FALSE(job.ok());
  EXPECT_NE(
      job.status().message().find("job.pbtxt:5:3: data.reader_threads: must be in [1, 64], got 65"),
      std::string::npos)
      << job.status();
  text.replace(text.find("65"), 2, "-1");
  EXPECT_NE(ParseJobConfig(text, "job.pbtxt").status().message().find("got -1"), std::string::npos);
  text.replace(text.find("-1"), 2, "4");
  auto four = ParseJobConfig(text, "job.pbtxt");
  ASSERT_TRUE(four.ok()) << four.status();
  EXPECT_EQ(four->data().reader_threads(), 4);
  auto set = ParseJobConfig(kJob, "job.pbtxt", {"data.reader_threads=100"});
  EXPECT_NE(set.status().message().find("--set data.reader_threads=100: data.reader_threads"),
            std::string::npos)
      << set.status();
}

TEST(JobConfigTest, ShuffleBufferIsBetweenZeroAndTenMillion) {
  std::string text = kJob;
  text.replace(text.find("  batch_size"), 0, "  shuffle_buffer: -1\n");
  auto job = ParseJobConfig(text, "job.pbtxt");
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.status().message().find(
                "job.pbtxt:5:3: data.shuffle_buffer: must be in [0, 10000000], got -1"),
            std::string::npos)
      << job.status();
  text.replace(text.find("-1"), 2, "10000001");
  EXPECT_NE(ParseJobConfig(text, "job.pbtxt").status().message().find("got 10000001"),
            std::string::npos);
  text.replace(text.find("10000001"), 8, "4096");
  auto ok = ParseJobConfig(text, "job.pbtxt");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->data().shuffle_buffer(), 4096);
  auto set = ParseJobConfig(kJob, "job.pbtxt", {"data.shuffle_buffer=20000000"});
  EXPECT_NE(set.status().message().find("--set data.shuffle_buffer=20000000: data.shuffle_buffer: "
                                        "must be in [0, 10000000], got 20000000"),
            std::string::npos)
      << set.status();
}

TEST(JobConfigTest, RankingProtocolDefaultsAndNeedsTowers) {
  // deepfm cannot rank unrated items: the default protocol is refused by name.
  auto deepfm = ParseJobConfig(std::string(kJob) + "training { ranking_k: 10 }\n", "job.pbtxt");
  ASSERT_FALSE(deepfm.ok());
  EXPECT_NE(deepfm.status().message().find(
                "training.ranking_protocol: 'all_unrated' ranks items a user never rated"),
            std::string::npos)
      << deepfm.status();
  auto heldout = ParseJobConfig(
      kJob, "job.pbtxt", {"training.ranking_k=10", "training.ranking_protocol=heldout_only"});
  ASSERT_TRUE(heldout.ok()) << heldout.status();
  std::string mf = kJob;
  mf.replace(mf.find("\"deepfm\""), 8, "\"mf\"");
  auto all = ParseJobConfig(mf + "training { ranking_k: 10 }\n", "job.pbtxt");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->training().ranking_protocol(), "all_unrated");
  auto sampled = ParseJobConfig(mf, "job.pbtxt",
                                {"training.ranking_k=10", "training.ranking_protocol=sampled"});
  ASSERT_TRUE(sampled.ok()) << sampled.status();
  EXPECT_EQ(sampled->training().ranking_negatives(), 100);
  auto zero = ParseJobConfig(mf, "job.pbtxt",
                             {"training.ranking_k=10", "training.ranking_protocol=sampled",
                              "training.ranking_negatives=0"});
  EXPECT_NE(zero.status().message().find("--set training.ranking_negatives=0: "
                                         "training.ranking_negatives: must be at least 1"),
            std::string::npos)
      << zero.status();
  auto typo =
      ParseJobConfig(mf, "job.pbtxt", {"training.ranking_k=10", "training.ranking_protocol=full"});
  EXPECT_NE(typo.status().message().find("'full' is not one of all_unrated, heldout_only, sampled"),
            std::string::npos)
      << typo.status();
}

TEST(JobConfigTest, MissingFileIsNamed) {
  auto job = LoadJobConfig("/nonexistent/job.pbtxt");
  EXPECT_EQ(job.status().code(), StatusCode::kNotFound);
  EXPECT_NE(job.status().message().find("/nonexistent/job.pbtxt"), std::string::npos);
}

}  // namespace
}  // namespace metaps
