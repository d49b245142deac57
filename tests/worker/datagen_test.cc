#include "worker/data/datagen.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/env.h"
#include "common/metrics.h"
#include "tests/worker/datagen_test_util.h"
#include "worker/data/criteo_reader.h"
#include "worker/data/movielens_reader.h"
#include "worker/data/scenario_reader.h"

namespace metaps {
namespace {

using testing_util::Drained;
using testing_util::DrainReader;
using testing_util::Generate;
using testing_util::Generated;
using testing_util::JsonNumber;
using testing_util::Labels;
using testing_util::ReadFile;
using testing_util::SplitRows;
using testing_util::TempDir;

const DataSplit kSplits[] = {DataSplit::kTrain, DataSplit::kValid, DataSplit::kTest};

TEST(DatagenTest, SplitSizesAreEightyTenTen) {
  uint64_t sizes[kNumDataSplits];
  DatagenSplitSizes(1000, sizes);
  EXPECT_EQ(sizes[0], 800u);
  EXPECT_EQ(sizes[1], 100u);
  EXPECT_EQ(sizes[2], 100u);
  for (uint64_t rows : {1u, 7u, 19u, 12345u}) {
    DatagenSplitSizes(rows, sizes);
    EXPECT_EQ(sizes[0] + sizes[1] + sizes[2], rows);
    EXPECT_EQ(sizes[1], rows / 10);
  }
}

TEST(DatagenTest, RejectsBadOptions) {
  DatagenOptions options;
  options.out_dir = TempDir("bad");
  EXPECT_EQ(GenerateDataset(options, Env::Default()).status().code(),
            StatusCode::kInvalidArgument);  // rows = 0
  options.rows = 10;
  options.kind = DatagenKind::kScenarios;
  options.scenarios = 1;
  StatusOr<DatagenResult> result = GenerateDataset(options, Env::Default());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("--scenarios"), std::string::npos);
  EXPECT_EQ(ParseDatagenKind("clicks").status().code(), StatusCode::kInvalidArgument);
}

TEST(DatagenTest, SameSeedGivesIdenticalBytesForEveryKind) {
  for (DatagenKind kind : {DatagenKind::kCtr, DatagenKind::kRatings, DatagenKind::kScenarios}) {
    const std::string name = DatagenKindName(kind);
    Generated a = Generate(kind, 600, 7, TempDir(name + "_a"));
    Generated b = Generate(kind, 600, 7, TempDir(name + "_b"));
    Generated c = Generate(kind, 600, 8, TempDir(name + "_c"));
    ASSERT_EQ(a.result.files.size(), b.result.files.size());
    ASSERT_FALSE(a.result.files.empty());
    for (size_t f = 0; f < a.result.files.size(); ++f) {
      EXPECT_EQ(ReadFile(a.result.files[f]), ReadFile(b.result.files[f])) << a.result.files[f];
    }
    EXPECT_NE(ReadFile(TempDir(name + "_a") + "/" +
                       (kind == DatagenKind::kCtr       ? "train.txt"
                        : kind == DatagenKind::kRatings ? "train.ratings.csv"
                                                        : "train.csv")),
              ReadFile(TempDir(name + "_c") + "/" +
                       (kind == DatagenKind::kCtr       ? "train.txt"
                        : kind == DatagenKind::kRatings ? "train.ratings.csv"
                                                        : "train.csv")))
        << name;
    EXPECT_EQ(a.result.oracle_json + "\n", ReadFile(TempDir(name + "_a") + "/oracle.json"));
  }
}

TEST(DatagenCtrTest, EveryFileParsesAsCriteoWithZeroBadLines) {
  const std::string dir = TempDir("ctr_parse");
  Generated g = Generate(DatagenKind::kCtr, 3000, 11, dir);
  size_t empty_slots = 0;
  for (DataSplit split : kSplits) {
    auto reader = OpenCriteoReader({dir + "/" + DataSplitName(split) + ".txt"}, ReaderOptions{});
    ASSERT_TRUE(reader.ok()) << reader.status();
    Drained drained = DrainReader(reader->get());
    ASSERT_TRUE(drained.status.ok()) << drained.status;
    EXPECT_EQ((*reader)->stats().bad_lines, 0u);
    EXPECT_EQ(drained.examples, g.result.split_rows[static_cast<int>(split)]);
    std::vector<double> truth;
    std::vector<float> labels;
    SplitRows(g, split, &truth, &labels);
    EXPECT_EQ(Labels(drained), labels);  // the oracle saw the rows as written
    for (const Batch& b : drained.batches) {
      for (const SparseSlot& slot : b.slots) {
        for (size_t i = 0; i < b.size(); ++i) empty_slots += slot.NumKeys(i) == 0;
      }
    }
  }
  EXPECT_GT(empty_slots, 0u);  // some categorical values are missing, as in Criteo
}

TEST(DatagenCtrTest, OracleIsTheAucOfTheTrueProbabilities) {
  Generated g = Generate(DatagenKind::kCtr, 20000, 3, TempDir("ctr_oracle"));
  const std::string& json = g.result.oracle_json;
  EXPECT_NE(json.find("\"kind\":\"ctr\""), std::string::npos);
  EXPECT_EQ(JsonNumber(json, "rows"), 20000);
  for (DataSplit split : {DataSplit::kValid, DataSplit::kTest}) {
    std::vector<double> truth;
    std::vector<float> labels;
    SplitRows(g, split, &truth, &labels);
    const std::string name = DataSplitName(split);
    const double auc = JsonNumber(json, name + "_auc");
    EXPECT_NEAR(auc, ComputeAuc(truth, labels), 2e-6) << name;
    EXPECT_GT(auc, 0.7) << json;
    EXPECT_LT(auc, 0.9) << json;
  }
  const double rate = JsonNumber(json, "positive_rate");
  EXPECT_GT(rate, 0.2) << json;
  EXPECT_LT(rate, 0.3) << json;
  EXPECT_NEAR(JsonNumber(json, "mean_probability"), rate, 0.02);
  // The planted model beats the best constant.
  EXPECT_LT(JsonNumber(json, "test_logloss"), JsonNumber(json, "constant_test_logloss") - 0.05);
}

TEST(DatagenRatingsTest, SplitsParseAsMovieLensWithSideFiles) {
  const std::string dir = TempDir("ratings_parse");
  Generated g = Generate(DatagenKind::kRatings, 3000, 5, dir);
  for (DataSplit split : kSplits) {
    auto files = DetectMovieLensSplit(dir, DataSplitName(split));
    ASSERT_TRUE(files.ok()) << files.status();
    EXPECT_EQ(files->users, dir + "/users.csv");
    EXPECT_EQ(files->items, dir + "/movies.csv");
    auto reader = OpenMovieLensReader(*files, MovieLensOptions{}, ReaderOptions{});
    ASSERT_TRUE(reader.ok()) << reader.status();
    const BatchSchema& schema = (*reader)->schema();
    ASSERT_EQ(schema.num_slots(), 7u);
    EXPECT_EQ(schema.SlotIndex("gender"), 2);
    EXPECT_EQ(schema.SlotIndex("genres"), 6);
    Drained drained = DrainReader(reader->get());
    ASSERT_TRUE(drained.status.ok()) << drained.status;
    EXPECT_EQ((*reader)->stats().bad_lines, 0u);
    EXPECT_EQ(drained.examples, g.result.split_rows[static_cast<int>(split)]);
    std::vector<double> truth;
    std::vector<float> labels;
    SplitRows(g, split, &truth, &labels);
    EXPECT_EQ(Labels(drained), labels);
    for (const Batch& b : drained.batches) {
      for (size_t i = 0; i < b.size(); ++i) {
        // Every user and item is in the side files.
        EXPECT_EQ(b.slots[2].NumKeys(i), 1u);
        EXPECT_GE(b.slots[6].NumKeys(i), 1u);
        EXPECT_GE(b.labels[i], 0.5f);
        EXPECT_LE(b.labels[i], 5.0f);
        EXPECT_EQ(b.labels[i] * 2, std::round(b.labels[i] * 2));
        EXPECT_GT(b.timestamps[i], 0);
      }
    }
  }
  EXPECT_EQ(DetectMovieLensSplit(dir, "holdout").status().code(), StatusCode::kNotFound);
}

TEST(DatagenRatingsTest, OracleRmseIsAboutTheNoise) {
  Generated g = Generate(DatagenKind::kRatings, 20000, 9, TempDir("ratings_oracle"));
  const std::string& json = g.result.oracle_json;
  const double noise = JsonNumber(json, "noise_std");
  const double rmse = JsonNumber(json, "test_rmse");
  // The noise, plus rounding to half stars, less what clipping at 0.5 and 5 removes.
  EXPECT_NEAR(rmse, noise, 0.05) << json;
  EXPECT_LT(JsonNumber(json, "test_mae"), rmse);
  EXPECT_LT(rmse, JsonNumber(json, "constant_test_rmse") - 0.1) << json;
  std::vector<double> truth;
  std::vector<float> labels;
  SplitRows(g, DataSplit::kTest, &truth, &labels);
  RegressionMetricsAccumulator recomputed;
  for (size_t i = 0; i < truth.size(); ++i) recomputed.Add(truth[i], labels[i]);
  EXPECT_NEAR(recomputed.Result().rmse, rmse, 2e-6);
  const double mean = JsonNumber(json, "mean_rating");
  EXPECT_GT(mean, 3.2);
  EXPECT_LT(mean, 3.8);
}

// The cold-start oracle (meta_oracle_k<k>_*): the Bayes posterior of a new
// user's planted row after k ratings. More ratings help, k = 0 is the
// attribute prior alone (still far better than a constant), and no k beats
// the noise-free planted rating, which knows the user's row exactly.
TEST(DatagenRatingsTest, ColdStartOracleImprovesWithSupportRatings) {
  Generated g = Generate(DatagenKind::kRatings, 60000, 4, TempDir("ratings_cold_oracle"));
  const std::string& json = g.result.oracle_json;
  EXPECT_EQ(JsonNumber(json, "meta_query"), 10);
  double last = 1e9;
  for (int k : {0, 5, 10, 20, 50}) {
    const std::string key = "meta_oracle_k" + std::to_string(k);
    const double mae = JsonNumber(json, key + "_mae");
    EXPECT_GT(JsonNumber(json, key + "_users"), 50) << json;
    EXPECT_LT(mae, last) << key << " " << json;
    EXPECT_GT(mae, JsonNumber(json, "test_mae")) << key << " " << json;
    EXPECT_LT(JsonNumber(json, key + "_rmse"), JsonNumber(json, "constant_test_rmse")) << json;
    last = mae;
  }
}

}  // namespace
}  // namespace metaps

namespace metaps {
namespace {

using testing_util::JsonNumber;
using testing_util::ReadFile;
using testing_util::TempDir;

TEST(DatagenDaysTest, CivilDatesRoundTrip) {
  EXPECT_EQ(CivilDate(0), "1970-01-01");
  EXPECT_EQ(CivilDate(-1), "1969-12-31");
  auto d = ParseCivilDate("2026-01-01");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(CivilDate(*d + 59), "2026-03-01");  // not a leap year
  EXPECT_EQ(CivilDate(*ParseCivilDate("2028-02-28") + 1), "2028-02-29");
  for (const char* bad : {"2026-02-29", "2026-13-01", "2026-1-01", "20260101", "2026-01-0x", ""}) {
    EXPECT_FALSE(ParseCivilDate(bad).ok()) << bad;
  }
}

TEST(DatagenDaysTest, DailyPartitionsFromADriftingModel) {
  const uint64_t rows = 6000;
  DatagenOptions o;
  o.kind = DatagenKind::kCtr;
  o.rows = rows;
  o.seed = 4;
  o.days = 3;
  o.drift = 0.5;
  o.start_day = *ParseCivilDate("2026-02-27");
  o.out_dir = TempDir("days");
  std::vector<std::string> oracles;
  o.on_day = [&](const std::string&, const std::string& json) { oracles.push_back(json); };
  auto r = GenerateDataset(o, Env::Default());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(oracles.size(), 3u);
  const char* days[] = {"day=2026-02-27", "day=2026-02-28", "day=2026-03-01"};
  for (int d = 0; d < 3; ++d) {
    EXPECT_EQ(ReadFile(o.out_dir + "/" + days[d] + "/oracle.json"), oracles[d] + "\n");
    EXPECT_NE(oracles[d].find(std::string("\"day\":\"") + (days[d] + 4) + "\""), std::string::npos);
  }
  // Day 0 is the plain dataset of the same seed, byte for byte.
  DatagenOptions plain = o;
  plain.days = 0;
  plain.drift = 0;
  plain.on_day = nullptr;
  plain.out_dir = TempDir("days_plain");
  ASSERT_TRUE(GenerateDataset(plain, Env::Default()).ok());
  EXPECT_EQ(ReadFile(plain.out_dir + "/train.txt"),
            ReadFile(o.out_dir + "/" + days[0] + "/train.txt"));
  // Each day draws its own rows, and yesterday's model is worse on today's rows.
  EXPECT_NE(ReadFile(o.out_dir + "/" + days[0] + "/test.txt"),
            ReadFile(o.out_dir + "/" + days[1] + "/test.txt"));
  EXPECT_EQ(oracles[0].find("yesterday"), std::string::npos);
  for (int d = 1; d < 3; ++d) {
    EXPECT_LT(JsonNumber(oracles[d], "yesterday_model_test_auc"),
              JsonNumber(oracles[d], "test_auc") - 0.02)
        << oracles[d];
    EXPECT_NEAR(JsonNumber(oracles[d], "positive_rate"), 0.25, 0.03) << oracles[d];
  }
}

TEST(DatagenDaysTest, NoDriftKeepsTheModelAndBadOptionsAreRefused) {
  DatagenOptions o;
  o.kind = DatagenKind::kCtr;
  o.rows = 4000;
  o.days = 2;
  o.drift = 0;
  o.out_dir = TempDir("days_still");
  std::vector<std::string> oracles;
  o.on_day = [&](const std::string&, const std::string& json) { oracles.push_back(json); };
  ASSERT_TRUE(GenerateDataset(o, Env::Default()).ok());
  ASSERT_EQ(oracles.size(), 2u);
  EXPECT_EQ(JsonNumber(oracles[1], "yesterday_model_test_auc"), JsonNumber(oracles[1], "test_auc"));

  o.drift = 1.5;
  EXPECT_EQ(GenerateDataset(o, Env::Default()).status().code(), StatusCode::kInvalidArgument);
  o.drift = 0.1;
  o.kind = DatagenKind::kRatings;
  auto ratings = GenerateDataset(o, Env::Default());
  ASSERT_FALSE(ratings.ok());
  EXPECT_NE(ratings.status().message().find("--days"), std::string::npos);
}

}  // namespace
}  // namespace metaps
