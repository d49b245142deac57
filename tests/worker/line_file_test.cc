#include "worker/data/line_file.h"

#include <gtest/gtest.h>

#include "tests/worker/reader_test_util.h"
#include "worker/batch.h"
#include "worker/data/feature_hash.h"
#include "worker/data/text_fields.h"

namespace metaps {
namespace {

using testing_util::WriteTempFile;

std::vector<std::string> ReadLines(const std::string& path, size_t buffer_size) {
  auto file = LineFile::Open(path, buffer_size);
  EXPECT_TRUE(file.ok()) << file.status();
  std::vector<std::string> lines;
  std::string_view line;
  for (;;) {
    auto got = (*file)->Next(&line);
    EXPECT_TRUE(got.ok());
    if (!got.ok() || !*got) break;
    lines.emplace_back(line);
  }
  return lines;
}

TEST(LineFileTest, CrlfEmptyLinesLongLinesAndNoFinalNewline) {
  const std::string long_line(100, 'x');
  const std::string path = WriteTempFile("lines.txt", "a\r\n\r\nbb\n" + long_line + "\r\n\nlast");
  for (size_t buffer : {16u, 1u << 20}) {  // a tiny buffer forces refills and growth
    std::vector<std::string> lines = ReadLines(path, buffer);
    ASSERT_EQ(lines.size(), 6u) << "buffer " << buffer;
    EXPECT_EQ(lines[0], "a");
    EXPECT_EQ(lines[1], "");
    EXPECT_EQ(lines[2], "bb");
    EXPECT_EQ(lines[3], long_line);
    EXPECT_EQ(lines[4], "");
    EXPECT_EQ(lines[5], "last");
  }
}

TEST(LineFileTest, MissingFileIsNotFound) {
  auto file = LineFile::Open("/nonexistent/metaps/file.txt");
  EXPECT_EQ(file.status().code(), StatusCode::kNotFound);
  EXPECT_NE(file.status().message().find("/nonexistent/metaps/file.txt"), std::string::npos);
}

TEST(TextFieldsTest, SplitsAndParses) {
  std::vector<std::string_view> fields;
  SplitFields("a,,b,", ',', &fields);
  EXPECT_EQ(fields, (std::vector<std::string_view>{"a", "", "b", ""}));
  SplitFields("1::F::1", "::", &fields);
  EXPECT_EQ(fields, (std::vector<std::string_view>{"1", "F", "1"}));
  std::vector<std::string> csv;
  ASSERT_TRUE(SplitQuotedCsv("11,\"American President, The (1995)\",Comedy|Drama", &csv));
  EXPECT_EQ(csv,
            (std::vector<std::string>{"11", "American President, The (1995)", "Comedy|Drama"}));
  ASSERT_TRUE(SplitQuotedCsv("1,\"say \"\"hi\"\"\",", &csv));
  EXPECT_EQ(csv, (std::vector<std::string>{"1", "say \"hi\"", ""}));
  EXPECT_FALSE(SplitQuotedCsv("1,\"unterminated", &csv));
  uint64_t u;
  EXPECT_TRUE(ParseUint64("18446744073709551615", &u));
  EXPECT_EQ(u, UINT64_MAX);
  EXPECT_FALSE(ParseUint64("12a", &u));
  EXPECT_FALSE(ParseUint64("", &u));
  double d;
  EXPECT_TRUE(ParseDouble("260.0", &d));
  EXPECT_EQ(d, 260.0);
  EXPECT_FALSE(ParseDouble("nan", &d));
  EXPECT_FALSE(ParseDouble("1.5x", &d));
}

TEST(FeatureHashTest, StableAcrossRunsAndSlotsDiffer) {
  // Golden values (checked against an independent Python implementation):
  // changing them breaks every checkpoint and every trained model.
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);  // the published FNV-1a test vector
  EXPECT_EQ(HashToken(0, "05db9164"), 0xe6a3bdf1d62f0ad6ULL);
  EXPECT_EQ(HashId(1, 42), 0xb76f7d684aebd5d0ULL);
  EXPECT_NE(HashToken(0, "05db9164"), HashToken(1, "05db9164"));
  EXPECT_NE(HashId(0, 7), HashId(1, 7));
  EXPECT_NE(HashId(0, 7), HashId(0, 8));
}

TEST(BatchTest, AbortExampleDropsPartialExample) {
  BatchSchema schema;
  schema.dense_names = {"d"};
  schema.slots = {{"a"}, {"b", /*has_values=*/true}};
  Batch batch;
  batch.Reset(schema);
  batch.AddDense(1);
  batch.AddKey(0, 11);
  batch.AddKeyValue(1, 12, 0.5f);
  batch.FinishExample(1.0f, 0, 5, 6, 7);
  batch.AddDense(2);
  batch.AddKey(0, 21);
  batch.AbortExample();
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch.dense, std::vector<float>{1});
  EXPECT_EQ(batch.slots[0].keys, std::vector<uint64_t>{11});
  EXPECT_EQ(batch.slots[0].offsets, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(batch.slots[1].values, std::vector<float>{0.5f});
  EXPECT_EQ(batch.user_ids[0], 5u);
  EXPECT_EQ(schema.SlotIndex("b"), 1);
  EXPECT_EQ(schema.SlotIndex("zz"), -1);
}

}  // namespace
}  // namespace metaps
