// PrefetchingReader yields exactly the inner reader's batches, in order, and
// keeps an error sticky.
#include "worker/data/prefetching_reader.h"

#include <gtest/gtest.h>

namespace metaps {
namespace {

// Produces `batches` batches of 3 examples labelled 0, 1, 2, ...; then fails
// once `fail_after` batches were produced (if >= 0), else ends.
class CountingReader : public Reader {
 public:
  CountingReader(int batches, int fail_after) : batches_(batches), fail_after_(fail_after) {
    schema_.slots.push_back({"s", false});
  }
  Status Next(Batch* batch) override {
    batch->Reset(schema_);
    if (fail_after_ >= 0 && produced_ == fail_after_) return InvalidArgument("f.txt:7: bad");
    if (produced_ == batches_) return Status::Ok();
    for (int i = 0; i < 3; ++i) {
      batch->AddKey(0, static_cast<uint64_t>(next_label_));
      batch->FinishExample(static_cast<float>(next_label_++));
    }
    ++produced_;
    return Status::Ok();
  }
  const BatchSchema& schema() const override { return schema_; }
  const ReaderStats& stats() const override { return stats_; }

 private:
  BatchSchema schema_;
  ReaderStats stats_;
  int batches_, fail_after_, produced_ = 0, next_label_ = 0;
};

TEST(PrefetchingReaderTest, SameBatchesInOrderThenEmptyForever) {
  PrefetchingReader reader(std::make_unique<CountingReader>(50, -1));
  Batch batch;
  float expected = 0;
  for (int b = 0; b < 50; ++b) {
    ASSERT_TRUE(reader.Next(&batch).ok());
    ASSERT_EQ(batch.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(batch.labels[i], expected);
      EXPECT_EQ(batch.slots[0].keys[i], static_cast<uint64_t>(expected));
      ++expected;
    }
  }
  for (int again = 0; again < 3; ++again) {
    ASSERT_TRUE(reader.Next(&batch).ok());
    EXPECT_TRUE(batch.empty());
  }
}

TEST(PrefetchingReaderTest, ErrorIsStickyAndNamesTheLine) {
  PrefetchingReader reader(std::make_unique<CountingReader>(50, 2));
  Batch batch;
  ASSERT_TRUE(reader.Next(&batch).ok());
  ASSERT_TRUE(reader.Next(&batch).ok());
  for (int again = 0; again < 2; ++again) {
    Status s = reader.Next(&batch);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), "f.txt:7: bad");
    EXPECT_TRUE(batch.empty());
  }
}

TEST(PrefetchingReaderTest, DestroyedMidStreamWithoutHanging) {
  auto reader = std::make_unique<PrefetchingReader>(std::make_unique<CountingReader>(1000, -1));
  Batch batch;
  ASSERT_TRUE(reader->Next(&batch).ok());
  reader.reset();  // joins the read-ahead thread
  EXPECT_EQ(batch.size(), 3u);
}

}  // namespace
}  // namespace metaps
