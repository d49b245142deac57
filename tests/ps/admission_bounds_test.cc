// Admission sightings are bounded (issue 13): keys pulled once by anyone
// cannot grow a table's pending-admission counters without limit.
#include <gtest/gtest.h>

#include "ps/embedding_table.h"

namespace metaps {
namespace {

TEST(AdmissionBoundsTest, SightingsAreCappedAndFrequentKeysStillGetAdmitted) {
  TableSpec spec;
  spec.id = 1;
  spec.name = "t";
  spec.dim = 2;
  spec.init = InitializerSpec::Uniform(0.1f);
  spec.optimizer.kind = OptimizerKind::kSgd;
  spec.optimizer.lr = 0.1f;
  spec.admit_after = 3;
  EmbeddingTableOptions options;
  options.num_stripes = 1;
  options.max_pending_admission = 100;
  auto table = EmbeddingTable::Create(spec, 7, options).value();
  std::vector<float> out(2);
  // 1000 distinct keys seen once each: at most 100 are remembered.
  for (uint64_t k = 1000; k < 2000; ++k) ASSERT_TRUE(table->Pull(&k, 1, out.data()).ok());
  TableStats stats = table->stats();
  EXPECT_LE(stats.pending_admission, 100u);
  EXPECT_GE(stats.admission_resets, 9u);
  EXPECT_EQ(stats.rows, 0u);
  // A key seen admit_after times in a row is admitted despite the churn.
  const uint64_t hot = 5;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(table->Pull(&hot, 1, out.data()).ok());
  EXPECT_EQ(table->stats().rows, 1u);

  options.max_pending_admission = 0;
  EXPECT_FALSE(EmbeddingTable::Create(spec, 7, options).ok());
}

}  // namespace
}  // namespace metaps
