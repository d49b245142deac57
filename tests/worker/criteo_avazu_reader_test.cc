#include <gtest/gtest.h>

#include <cmath>

#include "tests/worker/reader_test_util.h"
#include "worker/data/avazu_reader.h"
#include "worker/data/criteo_reader.h"
#include "worker/data/feature_hash.h"

namespace metaps {
namespace {

using testing_util::Drained;
using testing_util::DrainReader;
using testing_util::FixtureDir;
using testing_util::SharedDataDir;
using testing_util::WriteTempFile;

// A Criteo TSV line: label, 13 ints, 26 categoricals; `ints`/`cats` fill the
// first fields, the rest are empty.
std::string CriteoLine(int label, const std::vector<std::string>& ints,
                       const std::vector<std::string>& cats) {
  std::string line = std::to_string(label);
  for (int i = 0; i < 13; ++i) line += "\t" + (i < static_cast<int>(ints.size()) ? ints[i] : "");
  for (int i = 0; i < 26; ++i) line += "\t" + (i < static_cast<int>(cats.size()) ? cats[i] : "");
  return line;
}

std::unique_ptr<Reader> OpenCriteo(const std::string& path, ReaderOptions options = {}) {
  auto reader = OpenCriteoReader({path}, options);
  EXPECT_TRUE(reader.ok()) << reader.status();
  return reader.ok() ? std::move(reader).value() : nullptr;
}

TEST(CriteoReaderTest, ParsesCsvFixtureValues) {
  ReaderOptions options;
  options.batch_size = 8;
  auto reader = OpenCriteo(FixtureDir() + "/ctr/criteo_head30.csv", options);
  ASSERT_NE(reader, nullptr);
  // I1..I13, then the missing indicators I1_missing..I13_missing.
  ASSERT_EQ(reader->schema().num_dense(), 26u);
  EXPECT_EQ(reader->schema().dense_names[13], "I1_missing");
  EXPECT_EQ(reader->schema().num_slots(), 26u);
  EXPECT_EQ(reader->schema().slots[0].name, "C1");
  Batch batch;
  ASSERT_TRUE(reader->Next(&batch).ok());
  ASSERT_EQ(batch.size(), 8u);
  // Row 1: 0,,3,260.0,,17668.0,,,33.0,,,,0.0,,05db9164,...,87c6f83c,,,0429f84b,,3a171ecb,...
  EXPECT_EQ(batch.labels[0], 0.0f);
  EXPECT_EQ(batch.dense[0], 0.0f);  // I1 missing
  EXPECT_FLOAT_EQ(batch.dense[1], std::log1p(3.0f));
  EXPECT_FLOAT_EQ(batch.dense[2], std::log1p(260.0f));
  EXPECT_EQ(batch.dense[11], 0.0f);  // I12 = 0.0
  // Missing I1 and present-but-zero I12 differ only in their indicators.
  EXPECT_EQ(batch.dense[13 + 0], 1.0f);
  EXPECT_EQ(batch.dense[13 + 1], 0.0f);
  EXPECT_EQ(batch.dense[13 + 11], 0.0f);
  EXPECT_EQ(batch.dense[13 + 12], 1.0f);  // I13 missing
  // Row 2 has I2 = -1: non-positive values are kept.
  EXPECT_EQ(batch.dense[26 + 1], -1.0f);
  ASSERT_EQ(batch.slots[0].NumKeys(0), 1u);
  EXPECT_EQ(batch.slots[0].KeysOf(0)[0], HashToken(0, "05db9164"));
  EXPECT_EQ(batch.slots[17].KeysOf(0)[0], HashToken(17, "87c6f83c"));
  EXPECT_EQ(batch.slots[18].NumKeys(0), 0u);  // C19 empty
  EXPECT_EQ(batch.slots[20].KeysOf(0)[0], HashToken(20, "0429f84b"));
  EXPECT_EQ(batch.slots[25].NumKeys(0), 0u);
  Drained rest = DrainReader(reader.get());
  ASSERT_TRUE(rest.status.ok()) << rest.status;
  EXPECT_EQ(8 + rest.examples, 29u);
  EXPECT_EQ(reader->stats().examples, 29u);
  EXPECT_EQ(reader->stats().bad_lines, 0u);
}

TEST(CriteoReaderTest, TsvWithCrlfEmptyLinesAndMissingFields) {
  const std::string path =
      WriteTempFile("criteo_crlf.tsv", CriteoLine(1, {"5", "", "0"}, {"68fd1e64", "", "abc"}) +
                                           "\r\n\r\n" + CriteoLine(0, {}, {}) + "\r\n   \n" +
                                           CriteoLine(1, {"1"}, {"x"}));  // no final newline
  auto reader = OpenCriteo(path);
  ASSERT_NE(reader, nullptr);
  Drained all = DrainReader(reader.get());
  ASSERT_TRUE(all.status.ok()) << all.status;
  ASSERT_EQ(all.examples, 3u);
  const Batch& b = all.batches[0];
  EXPECT_EQ(b.labels, (std::vector<float>{1, 0, 1}));
  EXPECT_FLOAT_EQ(b.dense[0], std::log1p(5.0f));
  EXPECT_EQ(b.dense[1], 0.0f);
  EXPECT_EQ(b.dense[13 + 1], 1.0f);                         // I2 empty
  EXPECT_EQ(b.dense[13 + 2], 0.0f);                         // I3 = "0"
  EXPECT_EQ(b.dense[26 + 13 + 0], 1.0f);                    // second line: every field empty
  EXPECT_EQ(b.slots[2].KeysOf(0)[0], HashToken(2, "abc"));  // no "\r" left on the last field
  EXPECT_EQ(b.slots[1].NumKeys(0), 0u);
  for (int s = 0; s < 26; ++s) EXPECT_EQ(b.slots[s].NumKeys(1), 0u);
  EXPECT_EQ(reader->stats().empty_lines, 2u);
  EXPECT_EQ(reader->stats().lines, 3u);
  EXPECT_EQ(reader->stats().bad_lines, 0u);
}

TEST(CriteoReaderTest, MalformedLinesAreReportedWithFileAndLine) {
  const std::string good = CriteoLine(0, {"1"}, {"a"});
  const std::string path = WriteTempFile(
      "criteo_bad.tsv", good + "\n" + good + "\n1\t2\t3\n" + good + "\n" + CriteoLine(2, {}, {}) +
                            "\n" + CriteoLine(1, {"x1"}, {}) + "\n");
  ReaderOptions options;
  options.max_bad_fraction = 1.0;  // count, do not fail
  auto reader = OpenCriteo(path, options);
  ASSERT_NE(reader, nullptr);
  ::testing::internal::CaptureStderr();
  Drained all = DrainReader(reader.get());
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(all.status.ok()) << all.status;
  EXPECT_EQ(all.examples, 3u);
  EXPECT_EQ(reader->stats().lines, 6u);
  EXPECT_EQ(reader->stats().bad_lines, 3u);
  EXPECT_NE(log.find(path + ":3: expected 40 fields"), std::string::npos) << log;
  EXPECT_NE(log.find(path + ":5: label '2' is not 0 or 1"), std::string::npos) << log;
  EXPECT_NE(log.find(path + ":6: I1 'x1' is not a number"), std::string::npos) << log;
}

TEST(CriteoReaderTest, TooManyBadLinesIsAnError) {
  std::string content;
  for (int i = 0; i < 2000; ++i) {
    content +=
        (i == 10 || i == 500 || i == 900) ? "garbage\n" : CriteoLine(i % 2, {"1"}, {"a"}) + "\n";
  }
  const std::string path = WriteTempFile("criteo_many_bad.tsv", content);
  {
    ReaderOptions options;  // default 0.001 after 1000 lines: 3/1000 is too many
    auto reader = OpenCriteo(path, options);
    ::testing::internal::CaptureStderr();
    Drained all = DrainReader(reader.get());
    ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(all.status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(all.status.message().find(path + ": 3 of 1000 lines"), std::string::npos)
        << all.status;
    EXPECT_NE(all.status.message().find(path + ":11: expected 40 fields"), std::string::npos);
    Batch batch;
    EXPECT_EQ(reader->Next(&batch).code(), StatusCode::kInvalidArgument);  // sticky
    EXPECT_TRUE(batch.empty());
  }
  {
    ReaderOptions options;
    options.max_bad_fraction = 0.01;
    auto reader = OpenCriteo(path, options);
    ::testing::internal::CaptureStderr();
    Drained all = DrainReader(reader.get());
    ::testing::internal::GetCapturedStderr();
    ASSERT_TRUE(all.status.ok()) << all.status;
    EXPECT_EQ(all.examples, 1997u);
    EXPECT_EQ(reader->stats().bad_lines, 3u);
  }
  {
    // A short file is checked at its end: 1 bad line of 20 > 0.001.
    const std::string short_path =
        WriteTempFile("criteo_short_bad.tsv", content.substr(0, content.find("garbage") + 8));
    auto reader = OpenCriteo(short_path);
    ::testing::internal::CaptureStderr();
    Drained all = DrainReader(reader.get());
    ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(all.status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(all.status.message().find("1 of 11 lines"), std::string::npos) << all.status;
  }
}

TEST(CriteoReaderTest, WholeSharedSampleParsesCleanly) {
  const std::string path = SharedDataDir() + "/ctr-samples/criteo_sample.txt";
  if (!testing_util::FileExists(path)) GTEST_SKIP() << "no " << path;
  auto reader = OpenCriteo(path);
  Drained all = DrainReader(reader.get());
  ASSERT_TRUE(all.status.ok()) << all.status;
  EXPECT_EQ(all.examples, 200u);
  EXPECT_EQ(reader->stats().bad_lines, 0u);
  size_t positives = 0;
  for (const Batch& b : all.batches) {
    for (float y : b.labels) positives += y == 1.0f;
  }
  EXPECT_EQ(positives, 49u);  // as stated in shared/data/README.md
}

TEST(AvazuReaderTest, ParsesFixtureWithHourSplit) {
  auto opened = OpenAvazuReader({FixtureDir() + "/ctr/avazu_head30.csv"}, ReaderOptions{});
  ASSERT_TRUE(opened.ok()) << opened.status();
  Reader& reader = **opened;
  const BatchSchema& schema = reader.schema();
  // 24 columns - id - click - hour + hour_of_day + weekday.
  ASSERT_EQ(schema.num_slots(), 23u);
  EXPECT_EQ(schema.num_dense(), 0u);
  EXPECT_EQ(schema.SlotIndex("id"), -1);
  EXPECT_EQ(schema.SlotIndex("click"), -1);
  const int hour = schema.SlotIndex("hour_of_day");
  const int weekday = schema.SlotIndex("weekday");
  const int site = schema.SlotIndex("site_id");
  ASSERT_GE(hour, 0);
  ASSERT_EQ(weekday, hour + 1);
  ASSERT_GE(site, 0);
  Drained all = DrainReader(&reader);
  ASSERT_TRUE(all.status.ok()) << all.status;
  EXPECT_EQ(all.examples, 29u);
  const Batch& b = all.batches[0];
  // Row 1: id 1000009418151094273, click 0, hour 14102100, ..., site_id 1fbe01fe.
  EXPECT_EQ(b.labels[0], 0.0f);
  EXPECT_EQ(b.slots[hour].KeysOf(0)[0], HashId(hour, 0));
  EXPECT_EQ(b.slots[weekday].KeysOf(0)[0], HashId(weekday, 2));  // 2014-10-21 was a Tuesday
  EXPECT_EQ(b.slots[site].KeysOf(0)[0], HashToken(site, "1fbe01fe"));
  for (size_t s = 0; s < schema.num_slots(); ++s) EXPECT_EQ(b.slots[s].NumKeys(0), 1u) << s;
}

TEST(AvazuReaderTest, MismatchedHeaderInLaterFileIsAnError) {
  const std::string a = WriteTempFile("avazu_a.csv", "id,click,hour,C1\n1,1,14102100,5\n");
  const std::string b = WriteTempFile("avazu_b.csv", "id,click,C1\n2,0,5\n");
  auto opened = OpenAvazuReader({a, b}, ReaderOptions{});
  ASSERT_TRUE(opened.ok()) << opened.status();
  Drained all = DrainReader(opened->get());
  EXPECT_EQ(all.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(all.status.message().find(b + ":1: header"), std::string::npos) << all.status;
}

TEST(AvazuReaderTest, WholeSharedSampleParsesCleanly) {
  const std::string path = SharedDataDir() + "/ctr-samples/avazu_sample.txt";
  if (!testing_util::FileExists(path)) GTEST_SKIP() << "no " << path;
  auto opened = OpenAvazuReader({path}, ReaderOptions{});
  ASSERT_TRUE(opened.ok()) << opened.status();
  Drained all = DrainReader(opened->get());
  ASSERT_TRUE(all.status.ok()) << all.status;
  EXPECT_EQ(all.examples, 100u);
  EXPECT_EQ((*opened)->stats().bad_lines, 0u);
}

}  // namespace
}  // namespace metaps
