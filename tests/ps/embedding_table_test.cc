#include "ps/embedding_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <thread>
#include <vector>

#include "common/hash.h"

namespace metaps {
namespace {

constexpr uint64_t kSeed = 1234;

TableSpec Spec(OptimizerKind kind, int dim = 4) {
  TableSpec spec;
  spec.id = 3;
  spec.name = "items";
  spec.dim = dim;
  spec.init = InitializerSpec::Normal(0.1f);
  spec.optimizer.kind = kind;
  spec.optimizer.lr = 0.05f;
  spec.optimizer.l1 = 0.001f;
  spec.optimizer.l2 = 0.01f;
  return spec;
}

std::unique_ptr<EmbeddingTable> MakeTable(const TableSpec& spec, int stripes = 16) {
  auto table = EmbeddingTable::Create(spec, kSeed, EmbeddingTableOptions{stripes});
  EXPECT_TRUE(table.ok()) << table.status();
  return std::move(table).value();
}

std::vector<float> Pull(EmbeddingTable* t, const std::vector<uint64_t>& keys) {
  std::vector<float> out(keys.size() * t->dim());
  EXPECT_TRUE(t->Pull(keys.data(), keys.size(), out.data()).ok());
  return out;
}

std::map<uint64_t, std::vector<float>> Snapshot(const EmbeddingTable& t) {
  std::map<uint64_t, std::vector<float>> rows;
  t.ForEachRow(
      [&](uint64_t key, const float* row) { rows[key].assign(row, row + t.row_floats()); });
  return rows;
}

TEST(EmbeddingTableTest, CreateRejectsBadOptions) {
  EXPECT_EQ(EmbeddingTable::Create(Spec(OptimizerKind::kSgd), kSeed, {3}).status().code(),
            StatusCode::kInvalidArgument);
  TableSpec bad = Spec(OptimizerKind::kSgd);
  bad.dim = -1;
  EXPECT_EQ(EmbeddingTable::Create(bad, kSeed).status().code(), StatusCode::kInvalidArgument);
}

TEST(EmbeddingTableTest, InitializationIsDeterministicAcrossStripesAndOrder) {
  const TableSpec spec = Spec(OptimizerKind::kAdagrad, 8);
  auto a = MakeTable(spec, 16);
  auto b = MakeTable(spec, 1);
  std::vector<uint64_t> keys(1000);
  std::iota(keys.begin(), keys.end(), uint64_t{1} << 40);
  std::vector<uint64_t> reversed(keys.rbegin(), keys.rend());
  const std::vector<float> va = Pull(a.get(), keys);
  Pull(b.get(), reversed);
  EXPECT_EQ(va, Pull(b.get(), keys));
  // The value is the counter-based generator's and nothing else's.
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(va[i], 0.1f * CounterNormal(kSeed, spec.id, keys[0], i));
  }
  auto other_seed = EmbeddingTable::Create(spec, kSeed + 1).value();
  EXPECT_NE(va, Pull(other_seed.get(), keys));
  TableSpec uniform = spec;
  uniform.init = InitializerSpec::Uniform(0.5f);
  auto u = MakeTable(uniform);
  for (float v : Pull(u.get(), keys)) {
    ASSERT_GE(v, -0.5f);
    ASSERT_LT(v, 0.5f);
  }
  EXPECT_EQ(a->stats().rows, 1000u);
}

// A table at another id seeded as table 0 (a trial's, in its namespace)
// starts from exactly table 0's rows; without seed_id it does not.
TEST(EmbeddingTableTest, SeedIdGivesAnotherIdTheSameInitialRows) {
  TableSpec job;
  job.id = 0;
  job.name = "job";
  job.dim = 8;
  job.init = InitializerSpec::Normal(0.1f);
  TableSpec trial = job;
  trial.id = 1000;
  trial.seed_id = 0;
  TableSpec unseeded = job;
  unseeded.id = 1000;
  auto a = EmbeddingTable::Create(job, 99).value();
  auto b = EmbeddingTable::Create(trial, 99).value();
  auto c = EmbeddingTable::Create(unseeded, 99).value();
  const std::vector<uint64_t> keys = {1, 2, 3, 1ULL << 50, ~0ULL};
  std::vector<float> ra(keys.size() * 8), rb(keys.size() * 8), rc(keys.size() * 8);
  ASSERT_TRUE(a->Pull(keys.data(), keys.size(), ra.data()).ok());
  ASSERT_TRUE(b->Pull(keys.data(), keys.size(), rb.data()).ok());
  ASSERT_TRUE(c->Pull(keys.data(), keys.size(), rc.data()).ok());
  EXPECT_EQ(ra, rb);
  EXPECT_NE(ra, rc);
  EXPECT_EQ(b->spec().id, 1000u);  // recorded (checkpoints, exports) under its own id
}

TEST(EmbeddingTableTest, PullThenPushMatchesTheRulesForEveryOptimizer) {
  for (OptimizerKind kind :
       {OptimizerKind::kSgd, OptimizerKind::kAdagrad, OptimizerKind::kAdam, OptimizerKind::kFtrl}) {
    SCOPED_TRACE(OptimizerKindName(kind));
    const TableSpec spec = Spec(kind, 4);
    auto table = MakeTable(spec);
    const std::vector<uint64_t> keys = {11, 22, 33};
    const std::vector<float> initial = Pull(table.get(), keys);
    // Reference rows built by hand from the pulled values and the rules.
    std::vector<std::vector<float>> ref(keys.size());
    for (size_t k = 0; k < keys.size(); ++k) {
      ref[k].assign(table->row_floats(), 0.0f);
      std::copy(initial.begin() + k * 4, initial.begin() + (k + 1) * 4, ref[k].begin());
      InitOptimizerState(spec.optimizer, ref[k].data(), 4);
    }
    for (int step = 1; step <= 3; ++step) {
      std::vector<float> grads(keys.size() * 4);
      for (size_t i = 0; i < grads.size(); ++i) grads[i] = 0.01f * static_cast<float>(i) - step;
      ASSERT_TRUE(table->Push(keys.data(), keys.size(), grads.data(), step).ok());
      for (size_t k = 0; k < keys.size(); ++k) {
        ApplyOptimizer(spec.optimizer, ref[k].data(), grads.data() + k * 4, 4);
      }
    }
    const std::vector<float> pulled = Pull(table.get(), keys);
    const auto rows = Snapshot(*table);
    for (size_t k = 0; k < keys.size(); ++k) {
      for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(pulled[k * 4 + i], ref[k][i]);
      const std::vector<float>& stored = rows.at(keys[k]);
      for (int i = 0; i < table->row_floats(); ++i) EXPECT_FLOAT_EQ(stored[i], ref[k][i]);
    }
  }
}

// Push runs the rules through per-kind loops that may be vectorized (AVX2);
// the stored rows must still equal the scalar rules bit for bit. dim 37 covers
// both the vector body and the scalar tail; 300 keys span every stripe.
TEST(EmbeddingTableTest, BatchedPushIsBitIdenticalToTheScalarRules) {
  constexpr int kDim = 37;
  for (OptimizerKind kind :
       {OptimizerKind::kSgd, OptimizerKind::kAdagrad, OptimizerKind::kAdam, OptimizerKind::kFtrl}) {
    SCOPED_TRACE(OptimizerKindName(kind));
    TableSpec spec = Spec(kind, kDim);
    spec.optimizer.weight_decay = 0.003f;
    auto table = MakeTable(spec);
    std::vector<uint64_t> keys(300);
    for (size_t i = 0; i < keys.size(); ++i) keys[i] = Mix64(i + 1);
    keys[7] = keys[3];  // a repeat, applied in order
    std::map<uint64_t, std::vector<float>> ref;
    for (uint64_t key : keys) {
      std::vector<float>& row = ref[key];
      row.assign(table->row_floats(), 0.0f);
      table->InitialValue(key, row.data());
      InitOptimizerState(spec.optimizer, row.data(), kDim);
    }
    std::vector<float> grads(keys.size() * kDim);
    for (int step = 1; step <= 3; ++step) {
      for (size_t i = 0; i < grads.size(); ++i) {
        grads[i] = 0.001f * static_cast<float>((i * 7919 + step) % 2001) - 1.0f;
      }
      ASSERT_TRUE(table->Push(keys.data(), keys.size(), grads.data(), step).ok());
      for (size_t k = 0; k < keys.size(); ++k) {
        ApplyOptimizer(spec.optimizer, ref[keys[k]].data(), grads.data() + k * kDim, kDim);
      }
    }
    const auto stored = Snapshot(*table);
    ASSERT_EQ(stored.size(), ref.size());
    for (const auto& [key, row] : ref) ASSERT_EQ(stored.at(key), row) << "key " << key;
    std::vector<float> expected;
    for (uint64_t key : keys)
      expected.insert(expected.end(), ref[key].begin(), ref[key].begin() + kDim);
    EXPECT_EQ(Pull(table.get(), keys), expected);
  }
}

TEST(EmbeddingTableTest, RepeatedKeysInOnePushApplyInOrder) {
  const TableSpec spec = Spec(OptimizerKind::kAdagrad, 2);
  auto table = MakeTable(spec);
  const std::vector<uint64_t> keys = {5, 9, 5, 5};
  const std::vector<float> grads = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<float> initial = Pull(table.get(), {5});
  ASSERT_TRUE(table->Push(keys.data(), keys.size(), grads.data(), 1).ok());
  std::vector<float> ref(table->row_floats(), 0.0f);
  ref[0] = initial[0];
  ref[1] = initial[1];
  InitOptimizerState(spec.optimizer, ref.data(), 2);
  for (size_t i : {0, 2, 3}) ApplyOptimizer(spec.optimizer, ref.data(), grads.data() + 2 * i, 2);
  EXPECT_EQ(Snapshot(*table).at(5), ref);
}

TEST(EmbeddingTableTest, AdmissionAfterKSightings) {
  TableSpec spec = Spec(OptimizerKind::kSgd, 2);
  spec.admit_after = 3;
  auto table = MakeTable(spec);
  float init[2];
  table->InitialValue(77, init);
  const std::vector<float> first = Pull(table.get(), {77});
  EXPECT_EQ(first, std::vector<float>(init, init + 2));
  EXPECT_EQ(table->stats().rows, 0u);
  EXPECT_EQ(table->stats().pending_admission, 1u);
  const uint64_t key = 77;
  const float grad[2] = {1, 1};
  ASSERT_TRUE(table->Push(&key, 1, grad, 1).ok());  // dropped; a push is no sighting
  EXPECT_EQ(table->stats().rows, 0u);
  EXPECT_EQ(Pull(table.get(), {77}), first);  // second sighting
  EXPECT_EQ(table->stats().rows, 0u);
  // A push of a key never pulled neither creates a row nor counts.
  const uint64_t unseen = 88;
  ASSERT_TRUE(table->Push(&unseen, 1, grad, 1).ok());
  EXPECT_EQ(table->stats().pending_admission, 1u);
  EXPECT_EQ(Pull(table.get(), {77}), first);  // third: admitted, still the initial value
  TableStats stats = table->stats();
  EXPECT_EQ(stats.rows, 1u);
  EXPECT_EQ(stats.admitted, 1u);
  EXPECT_EQ(stats.pending_admission, 0u);
  ASSERT_TRUE(table->Push(&key, 1, grad, 2).ok());  // now applied
  EXPECT_FLOAT_EQ(Pull(table.get(), {77})[0], init[0] - 0.05f);
  // Sightings within one request count one by one.
  Pull(table.get(), {500, 500, 500});
  EXPECT_EQ(table->stats().rows, 2u);
}

// Peek (evaluation's read) leaves the table exactly as it was.
TEST(EmbeddingTableTest, PeekReadsWithoutCreatingRowsOrCountingSightings) {
  TableSpec spec = Spec(OptimizerKind::kSgd, 2);
  spec.admit_after = 2;
  auto table = MakeTable(spec);
  const uint64_t trained = 5;
  Pull(table.get(), {trained, trained});  // admitted on its second sighting
  const float grad[2] = {1, -1};
  ASSERT_TRUE(table->Push(&trained, 1, grad, 1).ok());
  const auto before = Snapshot(*table);
  ASSERT_EQ(before.size(), 1u);
  const TableStats stats_before = table->stats();

  const std::vector<uint64_t> keys = {trained, 6, 6, 7};
  std::vector<float> peeked(keys.size() * 2);
  ASSERT_TRUE(table->Peek(keys.data(), keys.size(), peeked.data()).ok());
  EXPECT_EQ(peeked[0], before.at(trained)[0]);  // a live row reads as itself
  EXPECT_EQ(peeked[1], before.at(trained)[1]);
  float init[2];
  table->InitialValue(6, init);
  EXPECT_EQ(peeked[2], init[0]);  // a key without a row reads as its initial value
  EXPECT_EQ(peeked[5], init[1]);
  EXPECT_EQ(Snapshot(*table), before);
  EXPECT_EQ(table->stats().rows, stats_before.rows);
  EXPECT_EQ(table->stats().pending_admission, stats_before.pending_admission);
  EXPECT_EQ(table->stats().admitted, stats_before.admitted);
  // Peeked twice, key 6 has still not been seen: one Pull is its first sighting.
  Pull(table.get(), {6});
  EXPECT_EQ(table->stats().rows, 1u);
  EXPECT_EQ(table->stats().pending_admission, stats_before.pending_admission + 1);
}

TEST(EmbeddingTableTest, EvictionRemovesStaleRowsAndReusesSlots) {
  TableSpec spec = Spec(OptimizerKind::kSgd, 4);
  spec.evict_after_steps = 10;
  auto table = MakeTable(spec, 1);  // one stripe: freed slots are exactly reusable
  std::vector<uint64_t> keys(1000);
  std::iota(keys.begin(), keys.end(), 0);
  std::vector<float> grads(keys.size() * 4, 1.0f);
  ASSERT_TRUE(table->Push(keys.data(), keys.size(), grads.data(), 1).ok());
  ASSERT_TRUE(table->Push(keys.data(), 500, grads.data(), 8).ok());  // keys 0..499 fresh
  EXPECT_EQ(table->EvictStale(10), 0u);                              // 10 - 1 < 10
  EXPECT_EQ(table->EvictStale(11), 500u);
  TableStats stats = table->stats();
  EXPECT_EQ(stats.rows, 500u);
  EXPECT_EQ(stats.evicted, 500u);
  const auto rows = Snapshot(*table);
  EXPECT_EQ(rows.begin()->first, 0u);
  EXPECT_EQ(rows.rbegin()->first, 499u);
  // New keys take the freed slots: no growth.
  const size_t bytes = stats.bytes;
  std::vector<uint64_t> fresh(500);
  std::iota(fresh.begin(), fresh.end(), 100000);
  Pull(table.get(), fresh);
  EXPECT_EQ(table->stats().rows, 1000u);
  EXPECT_EQ(table->stats().bytes, bytes);
  // An evicted key comes back with its initial value, not its trained one.
  float init[4];
  table->InitialValue(700, init);
  EXPECT_EQ(Pull(table.get(), {700}), std::vector<float>(init, init + 4));
  // Eviction off: nothing is ever removed.
  auto keep = MakeTable(Spec(OptimizerKind::kSgd, 4));
  Pull(keep.get(), keys);
  EXPECT_EQ(keep->EvictStale(1000000), 0u);
}

TEST(EmbeddingTableTest, GrowthKeepsValues) {
  auto table = MakeTable(Spec(OptimizerKind::kSgd, 4), 1);
  std::vector<uint64_t> first(100);
  std::iota(first.begin(), first.end(), 0);
  std::vector<float> grads(first.size() * 4);
  for (size_t i = 0; i < grads.size(); ++i) grads[i] = static_cast<float>(i % 13);
  Pull(table.get(), first);
  ASSERT_TRUE(table->Push(first.data(), first.size(), grads.data(), 1).ok());
  const std::vector<float> before = Pull(table.get(), first);
  std::vector<uint64_t> many(200000);
  std::iota(many.begin(), many.end(), 1000);
  Pull(table.get(), many);  // several index rehashes and slab chunks
  EXPECT_EQ(table->stats().rows, 200100u);
  EXPECT_EQ(Pull(table.get(), first), before);
}

TEST(EmbeddingTableTest, ForEachRowAndInsertRowCopyEverything) {
  const TableSpec spec = Spec(OptimizerKind::kAdam, 3);
  auto a = MakeTable(spec);
  std::vector<uint64_t> keys = {1, 2, 3, 1000000007};
  std::vector<float> grads(keys.size() * 3, 0.5f);
  ASSERT_TRUE(a->Push(keys.data(), keys.size(), grads.data(), 4).ok());
  auto b = MakeTable(spec, 2);
  a->ForEachRow([&](uint64_t key, const float* row) { ASSERT_TRUE(b->InsertRow(key, row).ok()); });
  EXPECT_EQ(Snapshot(*a), Snapshot(*b));
  EXPECT_EQ(Pull(a.get(), keys), Pull(b.get(), keys));
}

// Integer gradients with lr = 1 make every float sum exact, so the result must
// not depend on how the threads interleave.
TEST(EmbeddingTableTest, ConcurrentPushesEqualASerialReference) {
  TableSpec spec = Spec(OptimizerKind::kSgd, 8);
  spec.init = InitializerSpec::Zeros();
  spec.optimizer.lr = 1.0f;
  constexpr int kThreads = 4, kRounds = 20, kBatch = 600;
  auto batch = [](int thread, int round, std::vector<uint64_t>* keys, std::vector<float>* grads) {
    keys->clear();
    grads->clear();
    for (int i = 0; i < kBatch; ++i) {
      // Half private to the thread, half shared by all threads.
      const uint64_t key =
          i % 2 == 0 ? 1000000 * (thread + 1) + (i * 7 + round) % 2000 : (i * 13 + round * 5) % 700;
      keys->push_back(key);
      for (int d = 0; d < 8; ++d) grads->push_back(static_cast<float>((i + d + thread) % 9) - 4);
    }
  };
  auto parallel = MakeTable(spec);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint64_t> keys;
      std::vector<float> grads, out;
      for (int r = 0; r < kRounds; ++r) {
        batch(t, r, &keys, &grads);
        out.resize(keys.size() * 8);
        ASSERT_TRUE(parallel->Pull(keys.data(), keys.size(), out.data()).ok());
        ASSERT_TRUE(parallel->Push(keys.data(), keys.size(), grads.data(), r).ok());
      }
    });
  }
  for (auto& th : threads) th.join();

  auto serial = MakeTable(spec, 1);
  std::vector<uint64_t> keys;
  std::vector<float> grads;
  for (int t = 0; t < kThreads; ++t) {
    for (int r = 0; r < kRounds; ++r) {
      batch(t, r, &keys, &grads);
      ASSERT_TRUE(serial->Push(keys.data(), keys.size(), grads.data(), r).ok());
    }
  }
  const auto expected = Snapshot(*serial);
  EXPECT_GT(expected.size(), 1000u);
  EXPECT_EQ(Snapshot(*parallel), expected);
  EXPECT_EQ(parallel->stats().rows, expected.size());
}

}  // namespace
}  // namespace metaps
