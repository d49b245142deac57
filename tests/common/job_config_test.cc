// Job config: defaults, overrides, and errors that say file:line:column.
#include "common/job_config.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

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

// An explicit 0 that differs from the default is kept, not replaced (proto3
// would lose it without `optional`).
TEST(JobConfigTest, ExplicitZerosAreKept) {
  auto job = ParseJobConfig(kJob, "job.pbtxt",
                            {"data.max_bad_fraction=0", "training.seed=0", "training.log_every=0",
                             "embedding.optimizer.initial_accumulator=0"});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->data().max_bad_fraction(), 0.0);
  EXPECT_EQ(job->training().seed(), 0u);
  EXPECT_EQ(job->training().log_every(), 0);
  EXPECT_EQ(job->embedding().optimizer().initial_accumulator(), 0.0f);
  // Left out, they take their defaults.
  auto plain = ParseJobConfig(kJob, "job.pbtxt");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->data().max_bad_fraction(), 0.001);
  EXPECT_EQ(plain->training().seed(), 1u);
  EXPECT_EQ(plain->training().log_every(), 100);
}

TEST(JobConfigTest, ExplicitZeroSizesAreErrors) {
  for (const char* set : {"data.batch_size=0", "model.embedding_dim=0", "cluster.servers=0",
                          "training.epochs=0", "data.holdout_fraction=0"}) {
    auto job = ParseJobConfig(kJob, "job.pbtxt", {set});
    ASSERT_FALSE(job.ok()) << set;
    const std::string field = std::string(set).substr(0, std::string(set).find('='));
    EXPECT_NE(job.status().message().find("--set " + std::string(set) + ": " + field),
              std::string::npos)
        << job.status();
  }
}

// Each of these was silently ignored by the family it was set for.
TEST(JobConfigTest, FieldsTheFamilyDoesNotReadAreErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {"item_slots: \"genres\"", "job.pbtxt:9:3: model.item_slots: applies to mf and ncf only"},
      {"user_slots: \"user\"", "job.pbtxt:9:3: model.user_slots: applies to mf and ncf only"},
      {"global_bias: 3.5", "job.pbtxt:9:3: model.global_bias: applies to mf and ncf only"},
      {"num_scenarios: 3", "job.pbtxt:9:3: model.num_scenarios: applies to multi_scenario only"},
  };
  for (const auto& [extra, error] : cases) {
    std::string text = kJob;
    text.replace(text.find("  hidden"), 0, std::string("  ") + extra + "\n");
    auto job = ParseJobConfig(text, "job.pbtxt");
    ASSERT_FALSE(job.ok()) << extra;
    EXPECT_NE(job.status().message().find(error), std::string::npos) << job.status().message();
  }
  auto mf = ParseJobConfig(kJob, "job.pbtxt", {"model.family=mf"});
  EXPECT_NE(mf.status().message().find("model.hidden: does not apply to mf"), std::string::npos)
      << mf.status();
  auto ncf = ParseJobConfig(kJob, "job.pbtxt", {"model.family=ncf", "model.fm_only=true"});
  EXPECT_NE(ncf.status().message().find("model.fm_only: applies to deepfm only"), std::string::npos)
      << ncf.status();
  // mf and ncf get their tower slots by default, and may name others.
  auto towers =
      ParseJobConfig(kJob, "job.pbtxt", {"model.family=ncf", "model.item_slots=item,genres"});
  ASSERT_TRUE(towers.ok()) << towers.status();
  EXPECT_EQ(towers->model().user_slots(0), "user");
  EXPECT_EQ(towers->model().item_slots_size(), 2);
}

TEST(JobConfigTest, OptimizerFieldsOfAnotherKindAreErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {"embedding.optimizer.beta1=0.8", "embedding.optimizer.beta1: beta1 and beta2 apply to adam"},
      {"dense_optimizer.initial_accumulator=0.5",
       "dense_optimizer.initial_accumulator: applies to adagrad only"},
      {"linear.optimizer.kind=ftrl", nullptr},
      {"embedding.optimizer.bias_correction=global",
       "embedding.optimizer.bias_correction: applies to adam only"},
  };
  for (const auto& [set, error] : cases) {
    auto job = ParseJobConfig(kJob, "job.pbtxt", {set});
    if (error == nullptr) {
      EXPECT_TRUE(job.ok()) << job.status();
      continue;
    }
    ASSERT_FALSE(job.ok()) << set;
    EXPECT_NE(job.status().message().find(error), std::string::npos) << job.status();
  }
  auto ftrl = ParseJobConfig(kJob, "job.pbtxt",
                             {"linear.optimizer.kind=ftrl", "linear.optimizer.weight_decay=0.1"});
  EXPECT_NE(ftrl.status().message().find("linear.optimizer.weight_decay: does not apply to ftrl"),
            std::string::npos)
      << ftrl.status();
  auto decay = ParseJobConfig(
      kJob, "job.pbtxt",
      {"embedding.optimizer.lr=0.5", "embedding.optimizer.decoupled_weight_decay=2"});
  EXPECT_NE(decay.status().message().find("embedding.optimizer.decoupled_weight_decay: lr * "),
            std::string::npos)
      << decay.status();
}

// lr 0 freezes a table (used to measure what the embeddings are worth); FTRL
// divides by its alpha and needs it positive.
TEST(JobConfigTest, ZeroLearningRateFreezesExceptFtrl) {
  auto frozen = ParseJobConfig(kJob, "job.pbtxt", {"embedding.optimizer.lr=0"});
  ASSERT_TRUE(frozen.ok()) << frozen.status();
  EXPECT_EQ(frozen->embedding().optimizer().lr(), 0.0f);
  auto ftrl =
      ParseJobConfig(kJob, "job.pbtxt", {"linear.optimizer.kind=ftrl", "linear.optimizer.lr=0"});
  EXPECT_NE(ftrl.status().message().find("linear.optimizer.lr: must be positive"),
            std::string::npos)
      << ftrl.status();
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
  mf.replace(mf.find("\"deepfm\""), 8, "\"ncf\"");  // towers, and hidden is fine
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

// Fields that do not apply to data.format are errors naming the field and
// where it was set, never silently ignored.
TEST(JobConfigTest, DataFieldsThatDoNotApplyToTheFormatAreErrors) {
  struct Case {
    const char* data;
    const char* field;
  };
  const Case cases[] = {
      {R"(format: "criteo" train: "t" fields { name: "a" first: 0 last: 9 })", "data.fields"},
      {R"(format: "ffm" train: "t" field_map: "meta.txt")", "data.field_map"},
      {R"(format: "libsvm" train: "t" num_fields: 4)", "data.num_fields"},
      {R"(format: "criteo" train: "t" holdout_fraction: 0.2)", "data.holdout_fraction"},
      {R"(format: "avazu" train: "t" ignore_side_files: true)", "data.ignore_side_files"},
      {R"(format: "libsvm" train: "t" scenario_from: "C1")", "data.scenario_from"},
      {R"(format: "ffm" train: "t" scenario_from: "x")", "data.scenario_from"},
      {R"(format: "criteo" train: "t" scenario_from: "device_type")", "data.scenario_from"},
      {R"(format: "movielens" scenario_from: "zip")", "data.scenario_from"},
      {R"(format: "avazu" train: "t" scenario_values: ["1"])", "data.scenario_values"},
      {R"(format: "criteo" train: "t" scenario_bounds: [1])", "data.scenario_bounds"},
      {R"(format: "datagen-ratings" test: "t")", "data.test"},
  };
  for (const Case& c : cases) {
    const std::string text = std::string("data { ") + c.data + " }\nmodel { family: \"deepfm\" }";
    auto job = ParseJobConfig(text, "job.pbtxt");
    ASSERT_FALSE(job.ok()) << c.data;
    EXPECT_NE(job.status().message().find(std::string("job.pbtxt:1:")), std::string::npos)
        << job.status();
    EXPECT_NE(job.status().message().find(std::string(": ") + c.field + ": "), std::string::npos)
        << c.field << ": " << job.status();
  }
}

TEST(JobConfigTest, DataFieldsThatApplyAreAccepted) {
  for (const char* data : {
           R"(format: "libsvm" train: "t" fields { name: "a" first: 0 last: 9 }
              fields { name: "b" first: 10 last: 19 })",
           R"(format: "libsvm" train: "t" field_map: "meta.txt")",
           R"(format: "ffm" train: "t" num_fields: 4)",
           R"(format: "ffm" train: "t")",
           R"(format: "movielens" holdout_fraction: 0.2 scenario_from: "age"
              scenario_bounds: [25, 45])",
           R"(format: "avazu" train: "t" scenario_from: "device_type"
              scenario_values: ["1", "0|4|5", "*"])",
           R"(format: "datagen-scenarios" scenario_values: ["0", "1|2"])",
           R"(format: "datagen-scenarios" scenario_from: "occupation")",
       }) {
    const std::string text = std::string("data { ") + data + " }\nmodel { family: \"deepfm\" }";
    auto job = ParseJobConfig(text, "job.pbtxt");
    EXPECT_TRUE(job.ok()) << data << ": " << job.status();
  }
  // holdout_fraction's default is filled for movielens only.
  auto ml = ParseJobConfig("data { format: \"movielens\" } model { family: \"mf\" }", "job.pbtxt");
  ASSERT_TRUE(ml.ok()) << ml.status();
  EXPECT_DOUBLE_EQ(ml->data().holdout_fraction(), 0.1);
  auto criteo = ParseJobConfig(kJob, "job.pbtxt");
  ASSERT_TRUE(criteo.ok());
  EXPECT_FALSE(criteo->data().has_holdout_fraction());
}

TEST(JobConfigTest, BadFieldRangesAndScenarioListsNameTheField) {
  for (auto [data, problem] : std::vector<std::pair<const char*, const char*>>{
           {R"(format: "libsvm" train: "t" fields { name: "a" first: 5 last: 9 }
               fields { name: "b" first: 9 last: 19 })",
            "data.fields: index ranges overlap at 9"},
           {R"(format: "libsvm" train: "t" fields { name: "a" first: 5 last: 1 })",
            "data.fields: field 'a': first 5 is above last 1"},
           {R"(format: "libsvm" train: "t" fields { first: 0 last: 1 })",
            "data.fields: every field needs a name"},
           {R"(format: "libsvm" train: "t" field_map: "m" fields { name: "a" last: 1 })",
            "data.field_map: set data.fields or data.field_map, not both"},
           {R"(format: "ffm" train: "t" num_fields: 0)", "data.num_fields: must be in [1,"},
           {R"(format: "avazu" train: "t" scenario_from: "C1" scenario_values: ["1", "2|1"])",
            "data.scenario_values: value '1' is in more than one scenario"},
           {R"(format: "avazu" train: "t" scenario_from: "C1" scenario_bounds: [3, 2])",
            "data.scenario_bounds: must be increasing"},
           {R"(format: "movielens" ignore_side_files: true scenario_from: "age")",
            "data.scenario_from: needs the users side file"},
       }) {
    const std::string text = std::string("data { ") + data + " }\nmodel { family: \"deepfm\" }";
    auto job = ParseJobConfig(text, "job.pbtxt");
    ASSERT_FALSE(job.ok()) << data;
    EXPECT_NE(job.status().message().find(problem), std::string::npos)
        << problem << " in: " << job.status();
  }
}

}  // namespace
}  // namespace metaps
