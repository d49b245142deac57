#include "worker/data/libsvm_reader.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/worker/reader_test_util.h"
#include "worker/data/criteo_reader.h"
#include "worker/data/feature_hash.h"

namespace metaps {
namespace {

using testing_util::Drained;
using testing_util::DrainReader;
using testing_util::WriteTempFile;

TEST(LibsvmReaderTest, ParsesLabelsIndicesValuesAndQid) {
  const std::string path = WriteTempFile(
      "a.libsvm", "1 3:0.5 10:1\n-1 qid:7 5000000000:2.5  # comment 1:1\n0\n+1\t2:-3e-2\r\n");
  LibsvmOptions format;
  format.raw_keys = true;
  auto reader = OpenLibsvmReader({path}, format, ReaderOptions{});
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->schema().num_slots(), 1u);
  EXPECT_TRUE((*reader)->schema().slots[0].has_values);
  Drained all = DrainReader(reader->get());
  ASSERT_TRUE(all.status.ok()) << all.status;
  ASSERT_EQ(all.examples, 4u);
  const Batch& b = all.batches[0];
  EXPECT_EQ(b.labels, (std::vector<float>{1, 0, 0, 1}));
  EXPECT_EQ(b.slots[0].offsets, (std::vector<uint32_t>{0, 2, 3, 3, 4}));
  EXPECT_EQ(b.slots[0].keys, (std::vector<uint64_t>{3, 10, 5000000000ULL, 2}));
  EXPECT_EQ(b.slots[0].values, (std::vector<float>{0.5f, 1.0f, 2.5f, -0.03f}));
  EXPECT_EQ(b.user_ids[1], 7u);
}

TEST(LibsvmReaderTest, RegressionLabelsAndHashedKeys) {
  const std::string path = WriteTempFile("r.libsvm", "3.25 4:1\n-0.5 4:2\n");
  LibsvmOptions format;
  format.binary_label = false;
  auto reader = OpenLibsvmReader({path}, format, ReaderOptions{});
  ASSERT_TRUE(reader.ok());
  Drained all = DrainReader(reader->get());
  ASSERT_TRUE(all.status.ok());
  EXPECT_EQ(all.batches[0].labels, (std::vector<float>{3.25f, -0.5f}));
  EXPECT_EQ(all.batches[0].slots[0].keys[0], HashId(0, 4));
}

TEST(LibsvmReaderTest, FfmFieldsBecomeSlots) {
  const std::string path =
      WriteTempFile("a.ffm", "1 0:3:0.5 2:7:1 2:8:1\n0 1:4294967296:1\n1 3:1:1\n0 0:1\n");
  LibsvmOptions format;
  format.ffm = true;
  format.num_fields = 3;
  ReaderOptions options;
  options.max_bad_fraction = 1.0;
  auto reader = OpenLibsvmReader({path}, format, options);
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_EQ((*reader)->schema().num_slots(), 3u);
  EXPECT_EQ((*reader)->schema().slots[2].name, "field2");
  ::testing::internal::CaptureStderr();
  Drained all = DrainReader(reader->get());
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(all.status.ok()) << all.status;
  ASSERT_EQ(all.examples, 2u);
  const Batch& b = all.batches[0];
  EXPECT_EQ(b.slots[0].keys, std::vector<uint64_t>{HashId(0, 3)});
  EXPECT_EQ(b.slots[2].keys, (std::vector<uint64_t>{HashId(2, 7), HashId(2, 8)}));
  EXPECT_EQ(b.slots[1].keys, std::vector<uint64_t>{HashId(1, 4294967296ULL)});
  EXPECT_EQ(b.slots[1].offsets, (std::vector<uint32_t>{0, 0, 1}));
  EXPECT_EQ((*reader)->stats().bad_lines, 2u);
  EXPECT_NE(log.find(path + ":3: token '3:1:1': field is not below num_fields 3"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(path + ":4: token '0:1': expected field:index:value"), std::string::npos);
}

TEST(LibsvmReaderTest, FfmWithoutFieldCountIsRejected) {
  LibsvmOptions format;
  format.ffm = true;
  EXPECT_EQ(OpenLibsvmReader({"x"}, format, ReaderOptions{}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ReaderShardingTest, ThreeWorkersCoverEveryLineExactlyOnce) {
  // Two files; line n carries qid n. Empty lines and a comment-only tail count as lines.
  std::string first, second;
  for (int n = 0; n < 100; ++n) first += "1 qid:" + std::to_string(n) + " 1:1\n";
  first += "\n";
  for (int n = 100; n < 151; ++n) second += "0 qid:" + std::to_string(n) + " 2:1\n";
  const std::vector<std::string> files = {WriteTempFile("shard_a.libsvm", first),
                                          WriteTempFile("shard_b.libsvm", second)};
  std::multiset<uint64_t> seen;
  size_t total_lines = 0;
  for (int worker = 0; worker < 3; ++worker) {
    ReaderOptions options;
    options.worker_index = worker;
    options.num_workers = 3;
    options.batch_size = 7;
    auto reader = OpenLibsvmReader(files, LibsvmOptions{}, options);
    ASSERT_TRUE(reader.ok()) << reader.status();
    Drained all = DrainReader(reader->get());
    ASSERT_TRUE(all.status.ok()) << all.status;
    for (const Batch& b : all.batches) {
      for (uint64_t qid : b.user_ids) seen.insert(qid);
    }
    total_lines += (*reader)->stats().lines + (*reader)->stats().empty_lines;
    EXPECT_GE(all.examples, 50u);
    EXPECT_LE(all.examples, 51u);
  }
  EXPECT_EQ(total_lines, 152u);
  ASSERT_EQ(seen.size(), 151u);
  uint64_t expect = 0;
  for (uint64_t qid : seen) EXPECT_EQ(qid, expect++);
}

TEST(ReaderShardingTest, BadShardAndEmptyFileListAreRejected) {
  ReaderOptions options;
  options.worker_index = 3;
  options.num_workers = 3;
  EXPECT_EQ(OpenCriteoReader({"x"}, options).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenCriteoReader({}, ReaderOptions{}).status().code(), StatusCode::kInvalidArgument);
  auto missing = OpenCriteoReader({"/nonexistent/criteo.tsv"}, ReaderOptions{});
  ASSERT_TRUE(missing.ok());
  Batch batch;
  EXPECT_EQ((*missing)->Next(&batch).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace metaps
