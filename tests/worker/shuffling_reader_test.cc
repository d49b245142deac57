// ShufflingReader: every example exactly once per epoch, a pool of the
// configured size, the same order for the same seed, another for another
// epoch, file order for buffers 0 and 1, skipping lands on the same batch,
// sticky inner errors.
#include "worker/data/shuffling_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace metaps {
namespace {

// Example i: label i, dense {i, -i}, i % 3 keys in slot "a", one key with a
// value in slot "b", and ids derived from i, so a copy that mixes up columns
// or CSR offsets shows.
void AddExample(Batch* batch, int i) {
  batch->AddDense(static_cast<float>(i));
  batch->AddDense(static_cast<float>(-i));
  for (int j = 0; j < i % 3; ++j) batch->AddKey(0, static_cast<uint64_t>(i) * 10 + j);
  batch->AddKeyValue(1, static_cast<uint64_t>(i) + 7, 0.5f * static_cast<float>(i));
  batch->FinishExample(static_cast<float>(i), static_cast<uint32_t>(i % 4),
                       static_cast<uint64_t>(i) + 100, static_cast<uint64_t>(i) + 200, -i);
}

BatchSchema TestSchema() {
  BatchSchema schema;
  schema.dense_names = {"x", "y"};
  schema.slots = {{"a", false}, {"b", true}};
  return schema;
}

// Examples 0 .. n-1 in batches of `batch_size`; fails once `fail_after`
// batches were produced (if >= 0).
class SequenceReader : public Reader {
 public:
  SequenceReader(int n, int batch_size, int fail_after = -1)
      : schema_(TestSchema()), n_(n), batch_size_(batch_size), fail_after_(fail_after) {}
  Status Next(Batch* batch) override {
    batch->Reset(schema_);
    if (fail_after_ >= 0 && batches_ == fail_after_) return InvalidArgument("f.txt:7: bad");
    for (int b = 0; b < batch_size_ && next_ < n_; ++b) AddExample(batch, next_++);
    if (!batch->empty()) ++batches_;
    stats_.lines = stats_.examples = static_cast<size_t>(next_);
    return Status::Ok();
  }
  const BatchSchema& schema() const override { return schema_; }
  const ReaderStats& stats() const override { return stats_; }

 private:
  BatchSchema schema_;
  ReaderStats stats_;
  int n_, batch_size_, fail_after_, next_ = 0, batches_ = 0;
};

// Every column of example i, as text.
std::string ExampleText(const Batch& batch, size_t i) {
  std::ostringstream out;
  out << batch.labels[i] << '|';
  for (size_t d = 0; d < batch.num_dense; ++d) out << batch.dense[i * batch.num_dense + d] << ',';
  for (const SparseSlot& slot : batch.slots) {
    out << '|';
    for (uint32_t k = slot.offsets[i]; k < slot.offsets[i + 1]; ++k) {
      out << slot.keys[k];
      if (slot.has_values) out << ':' << slot.values[k];
      out << ',';
    }
  }
  out << '|' << batch.scenario_ids[i] << ',' << batch.user_ids[i] << ',' << batch.item_ids[i] << ','
      << batch.timestamps[i];
  return out.str();
}

std::string ExpectedText(int i) {
  Batch batch;
  batch.Reset(TestSchema());
  AddExample(&batch, i);
  return ExampleText(batch, 0);
}

struct Epoch {
  std::vector<int> labels;    // in the order handed out
  std::vector<size_t> sizes;  // of the batches
  std::vector<std::string> examples;
  Status status;
};

Epoch ReadAll(Reader* reader) {
  Epoch epoch;
  Batch batch;
  for (;;) {
    epoch.status = reader->Next(&batch);
    if (!epoch.status.ok() || batch.empty()) return epoch;
    epoch.sizes.push_back(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      epoch.labels.push_back(static_cast<int>(batch.labels[i]));
      epoch.examples.push_back(ExampleText(batch, i));
    }
  }
}

Epoch Shuffled(int n, int inner_batch, size_t buffer, size_t batch_size, uint64_t seed) {
  ShufflingReader reader(std::make_unique<SequenceReader>(n, inner_batch), buffer, batch_size,
                         seed);
  return ReadAll(&reader);
}

std::vector<int> FileOrder(int n) {
  std::vector<int> order(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  return order;
}

TEST(ShufflingReaderTest, EveryExampleExactlyOnceInBatchesOfTheBatchSize) {
  constexpr int kN = 1000;
  // Pools smaller than a batch, of a few batches (many compactions), and
  // larger than the input.
  for (size_t buffer : {2, 7, 100, 333, 1000, 5000}) {
    SCOPED_TRACE("buffer " + std::to_string(buffer));
    const Epoch epoch =
        Shuffled(kN, /*inner_batch=*/17, buffer, /*batch_size=*/32, ShuffleSeed(1, 1, 0));
    ASSERT_TRUE(epoch.status.ok()) << epoch.status;
    ASSERT_EQ(epoch.labels.size(), static_cast<size_t>(kN));
    ASSERT_EQ(epoch.sizes.size(), 32u);  // ceil(1000 / 32)
    for (size_t b = 0; b + 1 < epoch.sizes.size(); ++b) EXPECT_EQ(epoch.sizes[b], 32u);
    EXPECT_EQ(epoch.sizes.back(), 1000u % 32);
    std::vector<int> sorted = epoch.labels;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, FileOrder(kN));
    // Every column travelled with its label.
    for (size_t i = 0; i < epoch.examples.size(); ++i) {
      ASSERT_EQ(epoch.examples[i], ExpectedText(epoch.labels[i])) << "output " << i;
    }
    EXPECT_NE(epoch.labels, FileOrder(kN));
  }
}

TEST(ShufflingReaderTest, DrawsFromAPoolOfTheBufferSize) {
  // Output j is drawn from a pool holding inputs [0, buffer + j) minus those
  // handed out: it is never later in the input than that.
  constexpr size_t kBuffer = 50;
  const Epoch epoch = Shuffled(2000, 64, kBuffer, 64, ShuffleSeed(3, 1, 0));
  ASSERT_TRUE(epoch.status.ok()) << epoch.status;
  long max_lead = 0;  // how far ahead of its output position an input came out
  for (size_t j = 0; j < epoch.labels.size(); ++j) {
    ASSERT_LT(static_cast<size_t>(epoch.labels[j]), kBuffer + j) << "output " << j;
    max_lead = std::max(max_lead, static_cast<long>(epoch.labels[j]) - static_cast<long>(j));
  }
  EXPECT_GT(max_lead, static_cast<long>(kBuffer / 2));
  // The first draw is uniform over the first pool: over 2000 seeds each of the
  // 10 inputs comes first about 200 times (binomial sd 13; fixed seeds, no flakes).
  std::map<int, int> first;
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    ++first[Shuffled(20, 20, 10, 1, ShuffleSeed(seed, 1, 0)).labels.at(0)];
  }
  ASSERT_EQ(first.size(), 10u);
  for (const auto& [label, count] : first) {
    EXPECT_LT(label, 10);
    EXPECT_NEAR(count, 200, 60) << "input " << label;
  }
}

TEST(ShufflingReaderTest, SameSeedSameOrderOtherEpochOrWorkerAnother) {
  const auto run = [](uint64_t seed) { return Shuffled(500, 32, 128, 32, seed).examples; };
  const auto epoch1 = run(ShuffleSeed(7, 1, 0));
  EXPECT_EQ(run(ShuffleSeed(7, 1, 0)), epoch1);
  EXPECT_NE(run(ShuffleSeed(7, 2, 0)), epoch1);
  EXPECT_NE(run(ShuffleSeed(7, 1, 1)), epoch1);
  EXPECT_NE(run(ShuffleSeed(8, 1, 0)), epoch1);
  EXPECT_NE(ShuffleSeed(7, 1, 2), ShuffleSeed(7, 2, 1));
}

TEST(ShufflingReaderTest, BufferZeroOrOneIsFileOrder) {
  for (size_t buffer : {0, 1}) {
    const Epoch epoch = Shuffled(300, 17, buffer, 32, ShuffleSeed(1, 1, 0));
    ASSERT_TRUE(epoch.status.ok()) << epoch.status;
    EXPECT_EQ(epoch.labels, FileOrder(300)) << "buffer " << buffer;
    EXPECT_EQ(epoch.sizes.size(), 10u);
    EXPECT_EQ(epoch.sizes.front(), 32u);
    EXPECT_EQ(epoch.sizes.back(), 300u % 32);
  }
}

// The trainer resumes mid-epoch by skipping the batches already trained on.
TEST(ShufflingReaderTest, SkippingKBatchesLandsOnBatchKPlusOne) {
  const uint64_t seed = ShuffleSeed(11, 3, 1);
  const Epoch whole = Shuffled(1000, 17, 100, 32, seed);
  ASSERT_EQ(whole.sizes.size(), 32u);
  for (size_t k : {0, 1, 5, 20, 31}) {
    ShufflingReader reader(std::make_unique<SequenceReader>(1000, 17), 100, 32, seed);
    Batch batch;
    for (size_t i = 0; i < k; ++i) ASSERT_TRUE(reader.Next(&batch).ok());
    ASSERT_TRUE(reader.Next(&batch).ok());
    ASSERT_EQ(batch.size(), whole.sizes[k]) << "k " << k;
    const size_t first = 32 * k;
    for (size_t i = 0; i < batch.size(); ++i) {
      EXPECT_EQ(ExampleText(batch, i), whole.examples[first + i]) << "k " << k << " i " << i;
    }
  }
}

TEST(ShufflingReaderTest, EmptyForeverOnceDrainedAndStatsPassThrough) {
  ShufflingReader reader(std::make_unique<SequenceReader>(100, 10), 40, 16, ShuffleSeed(1, 1, 0));
  const Epoch epoch = ReadAll(&reader);
  ASSERT_TRUE(epoch.status.ok()) << epoch.status;
  EXPECT_EQ(epoch.labels.size(), 100u);
  EXPECT_EQ(reader.stats().examples, 100u);
  EXPECT_EQ(reader.stats().lines, 100u);
  Batch batch;
  for (int again = 0; again < 3; ++again) {
    ASSERT_TRUE(reader.Next(&batch).ok());
    EXPECT_TRUE(batch.empty());
  }
  EXPECT_EQ(reader.schema().num_slots(), 2u);
}

TEST(ShufflingReaderTest, InnerErrorIsStickyAndNamesTheLine) {
  // The inner reader fails on its 7th batch of 10, which the pool of 40 needs
  // for the 22nd output: the first batch of 16 comes out whole, the second
  // fails, and the error stays.
  ShufflingReader reader(std::make_unique<SequenceReader>(1000, 10, /*fail_after=*/6), 40, 16,
                         ShuffleSeed(1, 1, 0));
  const Epoch before = ReadAll(&reader);
  EXPECT_EQ(before.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(before.status.message(), "f.txt:7: bad");
  EXPECT_EQ(before.labels.size(), 16u);
  EXPECT_EQ(std::set<int>(before.labels.begin(), before.labels.end()).size(), before.labels.size());
  Batch batch;
  for (int again = 0; again < 2; ++again) {
    Status s = reader.Next(&batch);
    EXPECT_EQ(s.message(), "f.txt:7: bad");
    EXPECT_TRUE(batch.empty());
  }
  // An error while filling the first pool comes from the first call.
  ShufflingReader at_once(std::make_unique<SequenceReader>(1000, 10, /*fail_after=*/0), 40, 16,
                          ShuffleSeed(1, 1, 0));
  EXPECT_EQ(at_once.Next(&batch).message(), "f.txt:7: bad");
  EXPECT_TRUE(batch.empty());
}

}  // namespace
}  // namespace metaps
