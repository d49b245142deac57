// The scenarios kind of datagen and the reader of its files.
#include <gtest/gtest.h>

#include "common/metrics.h"
#include "tests/worker/datagen_test_util.h"
#include "worker/data/datagen.h"
#include "worker/data/feature_hash.h"
#include "worker/data/scenario_reader.h"

namespace metaps {
namespace {

using testing_util::Drained;
using testing_util::DrainReader;
using testing_util::Generate;
using testing_util::Generated;
using testing_util::JsonNumber;
using testing_util::Labels;
using testing_util::SplitRows;
using testing_util::TempDir;
using testing_util::WriteTempFile;

constexpr char kHeader[] = "label,scenario,user,item,age,gender,occupation,genres\n";

TEST(ScenarioReaderTest, ParsesSlotsAndIds) {
  const std::string path =
      WriteTempFile("scenarios_ok.csv",
                    std::string(kHeader) + "1,2,17,203,25,M,7,Action|Comedy\n0,0,5,9,1,F,0,\n");
  auto reader = OpenScenarioReader({path}, ReaderOptions{});
  ASSERT_TRUE(reader.ok()) << reader.status();
  const BatchSchema& schema = (*reader)->schema();
  ASSERT_EQ(schema.num_slots(), 6u);
  EXPECT_EQ(schema.SlotIndex("user"), 0);
  EXPECT_EQ(schema.SlotIndex("item"), 1);
  EXPECT_EQ(schema.SlotIndex("gender"), 3);
  EXPECT_EQ(schema.SlotIndex("genres"), 5);
  Drained all = DrainReader(reader->get());
  ASSERT_TRUE(all.status.ok()) << all.status;
  ASSERT_EQ(all.examples, 2u);
  const Batch& b = all.batches[0];
  EXPECT_EQ(b.labels[0], 1.0f);
  EXPECT_EQ(b.scenario_ids[0], 2u);
  EXPECT_EQ(b.user_ids[0], 17u);
  EXPECT_EQ(b.item_ids[0], 203u);
  EXPECT_EQ(b.slots[0].KeysOf(0)[0], HashId(0, 17));
  EXPECT_EQ(b.slots[1].KeysOf(0)[0], HashId(1, 203));
  EXPECT_EQ(b.slots[3].KeysOf(0)[0], HashToken(3, "M"));
  ASSERT_EQ(b.slots[5].NumKeys(0), 2u);
  EXPECT_EQ(b.slots[5].KeysOf(0)[1], HashToken(5, "Comedy"));
  EXPECT_EQ(b.slots[5].NumKeys(1), 0u);  // no genres
  EXPECT_EQ(b.scenario_ids[1], 0u);
}

TEST(ScenarioReaderTest, CountsBadLinesAndShards) {
  std::string text = kHeader;
  for (int i = 0; i < 10; ++i) text += "1,0," + std::to_string(i) + ",3,25,M,7,Drama\n";
  text += "2,0,1,3,25,M,7,Drama\n";  // label not 0/1
  text += "1,x,1,3,25,M,7,Drama\n";  // scenario not a number
  text += "1,0,1,3,25,M,7\n";        // a field short
  const std::string path = WriteTempFile("scenarios_bad.csv", text);
  ReaderOptions options;
  options.max_bad_fraction = 0.5;
  auto reader = OpenScenarioReader({path}, options);
  ASSERT_TRUE(reader.ok());
  Drained all = DrainReader(reader->get());
  ASSERT_TRUE(all.status.ok()) << all.status;
  EXPECT_EQ(all.examples, 10u);
  EXPECT_EQ((*reader)->stats().bad_lines, 3u);
  options.num_workers = 2;
  options.worker_index = 1;
  auto shard = OpenScenarioReader({path}, options);
  ASSERT_TRUE(shard.ok());
  Drained odd = DrainReader(shard->get());
  ASSERT_TRUE(odd.status.ok()) << odd.status;
  EXPECT_EQ(odd.examples, 5u);
  EXPECT_EQ(odd.batches[0].user_ids[0], 1u);  // data lines 1, 3, 5, ...
}

TEST(ScenarioReaderTest, RejectsMissingOrDifferentHeaders) {
  const std::string no_header = WriteTempFile("scenarios_nohdr.csv", "1,0,1,3\n");
  auto reader = OpenScenarioReader({no_header}, ReaderOptions{});
  EXPECT_EQ(reader.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(reader.status().message().find("scenarios_nohdr.csv:1"), std::string::npos);
  const std::string first =
      WriteTempFile("scenarios_h1.csv", std::string(kHeader) + "1,0,1,3,25,M,7,\n");
  const std::string second =
      WriteTempFile("scenarios_h2.csv", "label,scenario,user,item\n1,0,1,3\n");
  auto mixed = OpenScenarioReader({first, second}, ReaderOptions{});
  ASSERT_TRUE(mixed.ok());
  Drained all = DrainReader(mixed->get());
  EXPECT_EQ(all.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(all.status.message().find("scenarios_h2.csv"), std::string::npos) << all.status;
}

TEST(DatagenScenariosTest, FilesParseWithScenarioIdsAndOracle) {
  const std::string dir = TempDir("scenarios");
  const int k = 3;
  Generated g = Generate(DatagenKind::kScenarios, 20000, 4, dir, k);
  std::vector<uint64_t> per_scenario(k, 0);
  for (DataSplit split : {DataSplit::kTrain, DataSplit::kValid, DataSplit::kTest}) {
    auto reader = OpenScenarioReader({dir + "/" + DataSplitName(split) + ".csv"}, ReaderOptions{});
    ASSERT_TRUE(reader.ok()) << reader.status();
    EXPECT_EQ((*reader)->schema().num_slots(), 6u);
    Drained drained = DrainReader(reader->get());
    ASSERT_TRUE(drained.status.ok()) << drained.status;
    EXPECT_EQ((*reader)->stats().bad_lines, 0u);
    EXPECT_EQ(drained.examples, g.result.split_rows[static_cast<int>(split)]);
    std::vector<double> truth;
    std::vector<float> labels;
    std::vector<uint32_t> scenarios;
    SplitRows(g, split, &truth, &labels, &scenarios);
    EXPECT_EQ(Labels(drained), labels);
    std::vector<uint32_t> read_scenarios;
    for (const Batch& b : drained.batches) {
      read_scenarios.insert(read_scenarios.end(), b.scenario_ids.begin(), b.scenario_ids.end());
      for (size_t i = 0; i < b.size(); ++i) EXPECT_GE(b.slots[5].NumKeys(i), 1u);
    }
    EXPECT_EQ(read_scenarios, scenarios);
    for (uint32_t s : scenarios) ++per_scenario[s];
    if (split != DataSplit::kTest) continue;
    // Overall and per-scenario oracle AUC from the true probabilities.
    const std::string& json = g.result.oracle_json;
    EXPECT_NEAR(JsonNumber(json, "test_auc"), ComputeAuc(truth, labels), 2e-6);
    EXPECT_GT(JsonNumber(json, "test_auc"), 0.7) << json;
    EXPECT_LT(JsonNumber(json, "test_auc"), 0.9) << json;
    size_t from = json.find("\"per_scenario\"");
    for (uint32_t s = 0; s < k; ++s) {
      from = json.find("{\"scenario\":" + std::to_string(s), from);
      ASSERT_NE(from, std::string::npos) << json;
      std::vector<double> st;
      std::vector<float> sl;
      for (size_t i = 0; i < truth.size(); ++i) {
        if (scenarios[i] != s) continue;
        st.push_back(truth[i]);
        sl.push_back(labels[i]);
      }
      EXPECT_NEAR(JsonNumber(json, "test_auc", from), ComputeAuc(st, sl), 2e-6) << s;
      EXPECT_EQ(JsonNumber(json, "test_rows", from), static_cast<double>(st.size()));
    }
  }
  // Unequal sizes, the last scenario the smallest (about 1 : 0.5 : 0.1).
  EXPECT_GT(per_scenario[0], per_scenario[1]);
  EXPECT_GT(per_scenario[1], 3 * per_scenario[2]);
  EXPECT_GT(per_scenario[2], 0u);
}

}  // namespace
}  // namespace metaps
