// PsClient against real ParameterServers over ZeroMQ inproc sockets, without a
// scheduler: dedup, slicing by server, reassembly in the caller's order,
// repeated keys summed, concurrent pushes equal to a serial reference, errors.
#include "worker/ps_client.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <thread>

#include "common/hash.h"
#include "common/partition.h"
#include "kernels/cpu/cpu_backend.h"
#include "ps/checkpoint.h"
#include "ps/server.h"
#include "tests/worker/ps_cluster.h"
#include "worker/meta/meta_trainer.h"

namespace metaps {
namespace {

TEST(PsClientTest, PullReassemblesRowsInCallerOrderAcrossServers) {
  const TableSpec spec = Spec(3, 5, OptimizerKind::kSgd, 0.1f);
  PsCluster cluster(3, {spec});
  auto reference = EmbeddingTable::Create(spec, kSeed).value();
  // Duplicates, huge ids, and keys of every server.
  std::vector<uint64_t> keys = {42, 7, 42, ~0ULL, 1ULL << 40, 7, 0, 123456789, 42};
  std::vector<float> got(keys.size() * 5), want(keys.size() * 5);
  ASSERT_TRUE(cluster.client().Pull(3, keys.data(), keys.size(), got.data()).Wait().ok());
  for (size_t i = 0; i < keys.size(); ++i) reference->InitialValue(keys[i], &want[i * 5]);
  EXPECT_EQ(got, want);
  // Each server holds exactly the distinct keys it owns.
  size_t total = 0;
  for (int s = 0; s < 3; ++s) {
    cluster.server(s).Stop();
    for (const EmbeddingTable* t : cluster.server(s).tables()) {
      t->ForEachRow([&](uint64_t key, const float*) { EXPECT_EQ(KeyToServer(key, 3), s); });
      total += t->stats().rows;
    }
  }
  EXPECT_EQ(total, 6u);
}

// A read-only pull (evaluation) gets the same values as a training pull but
// creates no row on any server.
TEST(PsClientTest, ReadOnlyPullCreatesNoRows) {
  const TableSpec spec = Spec(3, 4, OptimizerKind::kSgd, 0.1f);
  PsCluster cluster(2, {spec});
  std::vector<uint64_t> keys = {11, 12, 13, 11, 1ULL << 50};
  std::vector<float> read_only(keys.size() * 4), trained(keys.size() * 4);
  ASSERT_TRUE(cluster.client()
                  .Pull(3, keys.data(), keys.size(), read_only.data(), /*keys_unique=*/false,
                        PsClient::PullMode::kReadOnly)
                  .Wait()
                  .ok());
  // A training pull of the first three keys only creates their rows.
  ASSERT_TRUE(cluster.client().Pull(3, keys.data(), 3, trained.data()).Wait().ok());
  EXPECT_EQ(std::vector<float>(read_only.begin(), read_only.begin() + 12),
            std::vector<float>(trained.begin(), trained.begin() + 12));
  for (int s = 0; s < 2; ++s) cluster.server(s).Stop();
  size_t rows = 0;
  for (int s = 0; s < 2; ++s) {
    for (const EmbeddingTable* t : cluster.server(s).tables()) rows += t->stats().rows;
  }
  EXPECT_EQ(rows, 3u);  // the read-only pull of 1 << 50 created nothing
}

TEST(PsClientTest, RepeatedKeysAreSummedBeforePush) {
  const TableSpec spec = Spec(1, 2, OptimizerKind::kSgd, 1.0f);
  PsCluster cluster(2, {spec});
  std::vector<uint64_t> keys = {9, 9, 10, 9};
  std::vector<float> grads = {1, 2, 10, 20, 100, 200, 1000, 2000};
  ASSERT_TRUE(cluster.client().Push(1, keys.data(), keys.size(), grads.data(), 1).Wait().ok());
  std::vector<uint64_t> probe = {9, 10};
  std::vector<float> rows(4), init(4);
  ASSERT_TRUE(cluster.client().Pull(1, probe.data(), 2, rows.data()).Wait().ok());
  auto reference = EmbeddingTable::Create(spec, kSeed).value();
  reference->InitialValue(9, &init[0]);
  reference->InitialValue(10, &init[2]);
  // SGD with lr 1: one update of the summed gradient per key.
  EXPECT_FLOAT_EQ(rows[0], init[0] - 1011);
  EXPECT_FLOAT_EQ(rows[1], init[1] - 2022);
  EXPECT_FLOAT_EQ(rows[2], init[2] - 100);
  EXPECT_FLOAT_EQ(rows[3], init[3] - 200);
  EXPECT_EQ(cluster.server(0).stats().rejected + cluster.server(1).stats().rejected, 0u);
}

// One KeyPlan serves a step's Pull and Push (and the next step's): rows and
// updated tables are bit-identical to the key-based calls on a twin cluster.
TEST(PsClientTest, OnePlanServesPullAndPushLikeKeyCalls) {
  const int dim = 3;
  const TableSpec spec = Spec(1, dim, OptimizerKind::kAdagrad, 0.1f);
  PsCluster by_plan(3, {spec}), by_keys(3, {spec});
  KeyPlan plan;
  EXPECT_EQ(plan.size(), 0u);
  std::vector<uint64_t> keys = {5, 1ULL << 45, 5, 77, 8, 77, 5};
  {
    std::vector<uint64_t> copy = keys;
    plan = by_plan.client().Plan(copy.data(), copy.size());
  }  // the plan keeps its own keys
  EXPECT_EQ(plan.size(), keys.size());
  EXPECT_EQ(plan.num_unique(), 4u);
  std::vector<float> grads(keys.size() * dim);
  for (size_t i = 0; i < grads.size(); ++i) grads[i] = 0.01f * static_cast<float>(i + 1);
  std::vector<float> first_rows;
  for (int step = 1; step <= 3; ++step) {
    std::vector<float> a(keys.size() * dim), b(keys.size() * dim);
    ASSERT_TRUE(by_plan.client().Pull(1, plan, a.data()).Wait().ok());
    ASSERT_TRUE(by_keys.client().Pull(1, keys.data(), keys.size(), b.data()).Wait().ok());
    EXPECT_EQ(a, b) << "step " << step;
    if (step == 1) first_rows = a;
    if (step == 3) {
      EXPECT_NE(a, first_rows);  // the pushes moved the rows
      break;
    }
    ASSERT_TRUE(by_plan.client().Push(1, plan, grads.data(), step).Wait().ok());
    ASSERT_TRUE(by_keys.client().Push(1, keys.data(), keys.size(), grads.data(), step).Wait().ok());
  }
  // A default (empty) plan pulls and pushes nothing.
  EXPECT_TRUE(by_plan.client().Pull(1, KeyPlan(), nullptr).Wait().ok());
  EXPECT_TRUE(by_plan.client().Push(1, KeyPlan(), nullptr, 3, /*every_server=*/true).Wait().ok());
  size_t rows = 0;
  for (int s = 0; s < 3; ++s) {
    by_plan.server(s).Stop();
    for (const EmbeddingTable* t : by_plan.server(s).tables()) rows += t->stats().rows;
  }
  EXPECT_EQ(rows, 4u);
}

// A plan fits the layout it was made for; elsewhere the call fails cleanly.
TEST(PsClientTest, PlanForAnotherServerCountIsRefused) {
  const TableSpec spec = Spec(1, 2, OptimizerKind::kSgd, 0.1f);
  PsCluster three(3, {spec}), two(2, {spec});
  const std::vector<uint64_t> keys = {1, 2, 3, 4, 5, 6};
  const KeyPlan plan = three.client().Plan(keys.data(), keys.size());
  std::vector<float> rows(keys.size() * 2), grads(keys.size() * 2, 1.0f);
  const Status pull = two.client().Pull(1, plan, rows.data()).Wait();
  EXPECT_EQ(pull.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(pull.message().find("made for 3 servers used with 2"), std::string::npos) << pull;
  EXPECT_EQ(two.client().Push(1, plan, grads.data(), 1).Wait().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(three.client().Pull(1, plan, rows.data()).Wait().ok());
}

// Admission through the client, as a training loop runs it: a key's first
// step (pull, push) leaves no row and drops its gradient; its second step's
// pull admits it (initial value) and that step's push is applied.
TEST(PsClientTest, AdmissionCountsTrainingStepsNotPushes) {
  TableSpec spec = Spec(1, 2, OptimizerKind::kSgd, 1.0f);
  spec.admit_after = 2;
  PsCluster cluster(2, {spec});
  auto reference = EmbeddingTable::Create(spec, kSeed).value();
  const std::vector<uint64_t> keys = {31, 32, 31};
  std::vector<float> init(keys.size() * 2);
  for (size_t i = 0; i < keys.size(); ++i) reference->InitialValue(keys[i], &init[i * 2]);
  const std::vector<float> grads = {1, 2, 10, 20, 100, 200};
  const KeyPlan plan = cluster.client().Plan(keys.data(), keys.size());
  std::vector<float> rows(keys.size() * 2);
  auto table_rows = [&] {
    size_t n = 0;
    for (int s = 0; s < 2; ++s) {
      for (const EmbeddingTable* t : cluster.server(s).tables()) n += t->stats().rows;
    }
    return n;
  };
  for (int step = 1; step <= 2; ++step) {
    ASSERT_TRUE(cluster.client().Pull(1, plan, rows.data()).Wait().ok());
    EXPECT_EQ(rows, init) << "step " << step;
    EXPECT_EQ(table_rows(), step == 1 ? 0u : 2u) << "step " << step;
    ASSERT_TRUE(cluster.client().Push(1, plan, grads.data(), step).Wait().ok());
  }
  ASSERT_TRUE(cluster.client().Pull(1, plan, rows.data()).Wait().ok());
  // Only step 2's gradients, repeated key 31 summed: 31 -= (1 + 100, 2 + 200).
  EXPECT_FLOAT_EQ(rows[0], init[0] - 101.0f);
  EXPECT_FLOAT_EQ(rows[1], init[1] - 202.0f);
  EXPECT_FLOAT_EQ(rows[2], init[2] - 10.0f);
  EXPECT_FLOAT_EQ(rows[3], init[3] - 20.0f);
}

TEST(PsClientTest, ConcurrentPushesEqualASerialReference) {
  // Zero init, integer gradients and lr 1: float sums are exact in any order.
  TableSpec spec = Spec(0, 8, OptimizerKind::kSgd, 1.0f);
  spec.init = InitializerSpec::Zeros();
  PsCluster cluster(2, {spec});
  auto reference = EmbeddingTable::Create(spec, kSeed).value();
  constexpr int kThreads = 4, kSteps = 20, kKeys = 300;
  auto batch = [](int t, int step, std::vector<uint64_t>* keys, std::vector<float>* grads) {
    keys->resize(kKeys);
    grads->resize(kKeys * 8);
    for (int i = 0; i < kKeys; ++i) {
      (*keys)[static_cast<size_t>(i)] = static_cast<uint64_t>((i * 7 + t * 13 + step * 29) % 500);
      for (int d = 0; d < 8; ++d) {
        (*grads)[static_cast<size_t>(i * 8 + d)] = static_cast<float>((i + d + t + step) % 5) - 2;
      }
    }
  };
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint64_t> keys;
      std::vector<float> grads;
      for (int step = 0; step < kSteps; ++step) {
        batch(t, step, &keys, &grads);
        if (!cluster.client().Push(0, keys.data(), keys.size(), grads.data(), step).Wait().ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  std::vector<uint64_t> keys;
  std::vector<float> grads;
  for (int t = 0; t < kThreads; ++t) {
    for (int step = 0; step < kSteps; ++step) {
      batch(t, step, &keys, &grads);
      ASSERT_TRUE(reference->Push(keys.data(), keys.size(), grads.data(), step).ok());
    }
  }
  std::vector<uint64_t> all(500);
  for (uint64_t k = 0; k < 500; ++k) all[k] = k;
  std::vector<float> got(500 * 8), want(500 * 8);
  ASSERT_TRUE(cluster.client().Pull(0, all.data(), all.size(), got.data()).Wait().ok());
  ASSERT_TRUE(reference->Pull(all.data(), all.size(), want.data()).ok());
  EXPECT_EQ(got, want);
}

TEST(PsClientTest, LargeRequestsTravelInChunks) {
  // 300k rows of dim 16 = 19 MB: several 4 MiB chunks each way.
  const TableSpec spec = Spec(2, 16, OptimizerKind::kAdagrad, 0.05f);
  PsCluster cluster(1, {spec});
  auto reference = EmbeddingTable::Create(spec, kSeed).value();
  std::vector<uint64_t> keys(300000);
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = i * 2654435761u;
  std::vector<float> grads(keys.size() * 16, 0.25f), got(keys.size() * 16), want(keys.size() * 16);
  ASSERT_TRUE(cluster.client().Push(2, keys.data(), keys.size(), grads.data(), 1).Wait().ok());
  ASSERT_TRUE(reference->Push(keys.data(), keys.size(), grads.data(), 1).ok());
  ASSERT_TRUE(cluster.client().Pull(2, keys.data(), keys.size(), got.data()).Wait().ok());
  ASSERT_TRUE(reference->Pull(keys.data(), keys.size(), want.data()).ok());
  EXPECT_EQ(got, want);

  // Every key twice, the copies 300k positions apart (in different chunks of
  // the input): summed before the push, one message per chunk or, with
  // every_server (BSP aggregation), one message in all.
  std::vector<uint64_t> twice(keys);
  twice.insert(twice.end(), keys.begin(), keys.end());
  std::vector<float> twice_grads(twice.size() * 16);
  for (size_t i = 0; i < twice_grads.size(); ++i)
    twice_grads[i] = 0.001f * static_cast<float>(i % 97);
  std::vector<float> summed(grads.size());
  for (size_t i = 0; i < summed.size(); ++i)
    summed[i] = twice_grads[i] + twice_grads[summed.size() + i];
  for (bool every_server : {false, true}) {
    ASSERT_TRUE(cluster.client()
                    .Push(2, twice.data(), twice.size(), twice_grads.data(), 2, every_server)
                    .Wait()
                    .ok());
    ASSERT_TRUE(reference->Push(keys.data(), keys.size(), summed.data(), 2).ok());
    ASSERT_TRUE(cluster.client().Pull(2, keys.data(), keys.size(), got.data()).Wait().ok());
    ASSERT_TRUE(reference->Pull(keys.data(), keys.size(), want.data()).ok());
    EXPECT_EQ(got, want) << "every_server " << every_server;
  }
}

// The reference's summed push of keys' gradients: each distinct key's
// gradients added in input order, applied once, as the client does.
Status ReferencePush(EmbeddingTable* reference, const std::vector<uint64_t>& keys,
                     const std::vector<float>& grads, int dim, int64_t step) {
  std::vector<uint64_t> distinct;
  std::vector<float> summed;
  std::map<uint64_t, size_t> at;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto [it, fresh] = at.emplace(keys[i], distinct.size());
    const auto g = grads.begin() + static_cast<std::ptrdiff_t>(i * dim);
    if (fresh) {
      distinct.push_back(keys[i]);
      summed.insert(summed.end(), g, g + dim);
    } else {
      for (int d = 0; d < dim; ++d) summed[it->second * dim + d] += g[d];
    }
  }
  return reference->Push(distinct.data(), distinct.size(), summed.data(), step);
}

// 100k positions: a quarter on 100 hot keys, the rest on 40k keys seen about
// twice each, the second time far from the first.
std::vector<uint64_t> SkewedKeys() {
  std::vector<uint64_t> keys(100000);
  for (size_t i = 0; i < keys.size(); ++i) {
    keys[i] = i % 4 == 0 ? Mix64(i / 4 % 100) : Mix64(1000 + i * 7919 % 40000);
  }
  return keys;
}

// Distinct small gradients of both signs for `rows` rows.
std::vector<float> RampGradients(size_t rows, int dim) {
  std::vector<float> grads(rows * static_cast<size_t>(dim));
  for (size_t i = 0; i < grads.size(); ++i) grads[i] = 1e-3f * static_cast<float>(i % 89) - 0.04f;
  return grads;
}

// Requests of many pieces (about 1 MiB of rows each) over three servers:
// skewed keys with repeats spread over every piece, and distinct keys (a
// training batch's plan), pull and push exactly what one table does.
TEST(PsClientTest, ManyPiecesOverServersMatchOneTable) {
  const int dim = 64;  // 4,096 rows per piece
  const TableSpec spec = Spec(4, dim, OptimizerKind::kAdagrad, 0.05f);
  PsCluster cluster(3, {spec});
  auto reference = EmbeddingTable::Create(spec, kSeed).value();
  const std::vector<uint64_t> keys = SkewedKeys();
  const std::vector<float> grads = RampGradients(keys.size(), dim);
  const KeyPlan plan = cluster.client().Plan(keys.data(), keys.size());
  ASSERT_GT(plan.num_unique(), 3u * 4096);  // several pieces per server
  ASSERT_LT(plan.num_unique(), keys.size() / 2);
  std::vector<float> got(keys.size() * dim), want(keys.size() * dim);
  for (int step = 1; step <= 2; ++step) {
    ASSERT_TRUE(cluster.client().Pull(4, plan, got.data()).Wait().ok());
    ASSERT_TRUE(reference->Pull(keys.data(), keys.size(), want.data()).ok());
    ASSERT_EQ(got, want) << "step " << step;
    ASSERT_TRUE(cluster.client().Push(4, plan, grads.data(), step).Wait().ok());
    ASSERT_TRUE(ReferencePush(reference.get(), keys, grads, dim, step).ok());
  }
  // Distinct keys: every row has one position.
  std::vector<uint64_t> distinct(40000);
  for (size_t i = 0; i < distinct.size(); ++i) distinct[i] = Mix64(i + 7);
  const KeyPlan unique = cluster.client().Plan(distinct.data(), distinct.size(), true);
  std::vector<float> rows(distinct.size() * dim), rows_want(distinct.size() * dim);
  ASSERT_TRUE(cluster.client().Push(4, unique, grads.data(), 3).Wait().ok());
  ASSERT_TRUE(reference->Push(distinct.data(), distinct.size(), grads.data(), 3).ok());
  ASSERT_TRUE(cluster.client().Pull(4, unique, rows.data()).Wait().ok());
  ASSERT_TRUE(reference->Pull(distinct.data(), distinct.size(), rows_want.data()).ok());
  EXPECT_EQ(rows, rows_want);
  ASSERT_TRUE(cluster.client().Pull(4, plan, got.data()).Wait().ok());
  ASSERT_TRUE(reference->Pull(keys.data(), keys.size(), want.data()).ok());
  EXPECT_EQ(got, want);
}

// A push of rows asked for twice (hot) and once (cold) whose value chunks
// (16,384 rows at dim 64) hold hot rows only, both kinds, and cold rows only:
// one message per server (BSP aggregation) or one per piece, the same table.
TEST(PsClientTest, HotAndColdRowsAcrossValueChunksMatchOneTable) {
  const int dim = 64;
  const TableSpec spec = Spec(5, dim, OptimizerKind::kAdagrad, 0.05f);
  for (bool every_server : {true, false}) {
    PsCluster cluster(1, {spec});
    auto reference = EmbeddingTable::Create(spec, kSeed).value();
    // Keys 0..20k twice (the second time 20k positions later), 20k..40k once.
    std::vector<uint64_t> keys;
    for (uint64_t k = 0; k < 20000; ++k) keys.push_back(Mix64(k));
    for (uint64_t k = 0; k < 40000; ++k) keys.push_back(Mix64(k));
    std::vector<float> grads(keys.size() * dim);
    for (size_t i = 0; i < grads.size(); ++i) grads[i] = 1e-3f * static_cast<float>(i % 101);
    const KeyPlan plan = cluster.client().Plan(keys.data(), keys.size());
    ASSERT_EQ(plan.num_unique(), 40000u);
    ASSERT_TRUE(cluster.client().Push(5, plan, grads.data(), 1, every_server).Wait().ok());
    std::vector<float> summed(40000 * dim);
    for (size_t k = 0; k < 40000; ++k) {
      for (int d = 0; d < dim; ++d) {
        const size_t second = 20000 + k;  // every key's position in the second run
        summed[k * dim + d] =
            k < 20000 ? grads[k * dim + d] + grads[second * dim + d] : grads[second * dim + d];
      }
    }
    ASSERT_TRUE(reference->Push(keys.data() + 20000, 40000, summed.data(), 1).ok());
    std::vector<float> got(keys.size() * dim), want(keys.size() * dim);
    ASSERT_TRUE(cluster.client().Pull(5, plan, got.data()).Wait().ok());
    ASSERT_TRUE(reference->Pull(keys.data(), keys.size(), want.data()).ok());
    EXPECT_EQ(got, want) << "every_server " << every_server;
  }
}

// A pull sent while its keys are deduplicated (PullAndPlan; the key-based
// Pull goes the same way): over three servers, at dim 64 (4,096 rows a
// piece, a 25 MB output written with streaming stores), dim 37 (rows that
// start and end inside cache lines) and dim 8 (one piece a server, sent when
// the dedup ends), with repeats far apart and distinct keys, the rows equal
// one table's, and the plan it returns pushes what one table applies.
TEST(PsClientTest, PullAndPlanMatchesOneTableAndItsPlanPushes) {
  for (int dim : {64, 37, 8}) {
    const TableSpec spec = Spec(6, dim, OptimizerKind::kAdagrad, 0.05f);
    PsCluster cluster(3, {spec});
    auto reference = EmbeddingTable::Create(spec, kSeed).value();
    const std::vector<uint64_t> keys = SkewedKeys();
    const std::vector<float> grads = RampGradients(keys.size(), dim);
    std::vector<float> got(keys.size() * dim), want(keys.size() * dim);
    for (int step = 1; step <= 2; ++step) {
      KeyPlan plan;
      ASSERT_TRUE(
          cluster.client().PullAndPlan(6, keys.data(), keys.size(), got.data(), &plan).Wait().ok());
      ASSERT_TRUE(reference->Pull(keys.data(), keys.size(), want.data()).ok());
      ASSERT_EQ(got, want) << "dim " << dim << " step " << step;
      ASSERT_EQ(plan.size(), keys.size());
      ASSERT_GT(plan.num_unique(), 3u * 4096);  // several pieces per server
      ASSERT_TRUE(cluster.client().Push(6, plan, grads.data(), step).Wait().ok());
      ASSERT_TRUE(ReferencePush(reference.get(), keys, grads, dim, step).ok());
    }
    // Distinct keys (a training batch's), some new, some pushed above.
    std::vector<uint64_t> distinct(40000);
    for (size_t i = 0; i < distinct.size(); ++i) distinct[i] = Mix64(1000 + i * 3);
    std::vector<float> rows(distinct.size() * dim), rows_want(distinct.size() * dim);
    KeyPlan plan;
    ASSERT_TRUE(cluster.client()
                    .PullAndPlan(6, distinct.data(), distinct.size(), rows.data(), &plan,
                                 /*keys_unique=*/true)
                    .Wait()
                    .ok());
    ASSERT_TRUE(reference->Pull(distinct.data(), distinct.size(), rows_want.data()).ok());
    EXPECT_EQ(rows, rows_want) << "dim " << dim;
    EXPECT_EQ(plan.num_unique(), distinct.size());
    ASSERT_TRUE(cluster.client().Push(6, plan, grads.data(), 3).Wait().ok());
    ASSERT_TRUE(reference->Push(distinct.data(), distinct.size(), grads.data(), 3).ok());
    ASSERT_TRUE(cluster.client().Pull(6, keys.data(), keys.size(), got.data()).Wait().ok());
    ASSERT_TRUE(reference->Pull(keys.data(), keys.size(), want.data()).ok());
    EXPECT_EQ(got, want) << "dim " << dim;
  }
}

// PullAndPlan of no keys, or of a table the client does not know: an empty
// result or the error, and a plan all the same.
TEST(PsClientTest, PullAndPlanOfNoKeysOrAnUnknownTable) {
  const TableSpec spec = Spec(0, 4, OptimizerKind::kSgd, 0.1f);
  PsCluster cluster(2, {spec});
  KeyPlan plan;
  EXPECT_TRUE(cluster.client().PullAndPlan(0, nullptr, 0, nullptr, &plan).Wait().ok());
  EXPECT_EQ(plan.size(), 0u);
  EXPECT_TRUE(cluster.client().Push(0, plan, nullptr, 1, /*every_server=*/true).Wait().ok());
  const uint64_t keys[3] = {4, 9, 4};
  float rows[12];
  EXPECT_EQ(cluster.client().PullAndPlan(31, keys, 3, rows, &plan).Wait().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan.num_unique(), 2u);
}

// A request over the plan's 31-bit indices is refused before its keys are
// read (none are passed here).
TEST(PsClientTest, RequestsOfTooManyKeysAreRefused) {
  const TableSpec spec = Spec(0, 4, OptimizerKind::kSgd, 0.1f);
  PsCluster cluster(1, {spec});
  const size_t n = PsClient::kMaxRequestKeys + 1;
  KeyPlan plan;
  EXPECT_EQ(cluster.client().Pull(0, nullptr, n, nullptr).Wait().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(cluster.client().PullAndPlan(0, nullptr, n, nullptr, &plan).Wait().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(cluster.client().Push(0, nullptr, n, nullptr, 1).Wait().code(),
            StatusCode::kInvalidArgument);
  const uint64_t key = 7;
  float row[4];
  EXPECT_TRUE(cluster.client().Pull(0, &key, 1, row).Wait().ok());  // still serving
}

TEST(PsClientTest, BadRequestsGetErrorsAndTheServerKeepsServing) {
  const TableSpec spec = Spec(0, 4, OptimizerKind::kSgd, 0.1f);
  PsCluster cluster(1, {spec});
  uint64_t key = 5;
  float row[4];
  cluster.client().AddTable(9, 4);  // the servers do not have it
  Status unknown = cluster.client().Pull(9, &key, 1, row).Wait();
  EXPECT_EQ(unknown.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("has no table id 9"), std::string::npos) << unknown;
  EXPECT_EQ(cluster.client().Pull(77, &key, 1, row).Wait().code(), StatusCode::kInvalidArgument);

  // A PUSH whose gradient frame does not match the table's dim.
  const ClusterView& view = cluster.worker_view();
  Message bad = MakeMessage(wire::PUSH, view.my_rank);
  bad.header.set_table_id(0);
  bad.AddCopy(&key, sizeof(key));
  bad.AddCopy(row, 3 * sizeof(float));
  auto reply =
      cluster.rpc()
          .Call(view.layout.ServerRank(0), std::move(bad), std::chrono::milliseconds(10000))
          .get();
  EXPECT_EQ(reply.status().code(), StatusCode::kProtocolError);
  EXPECT_NE(reply.status().message().find("value frame 0 has 12 bytes, expected 16"),
            std::string::npos)
      << reply.status();

  EXPECT_TRUE(cluster.client().Pull(0, &key, 1, row).Wait().ok());
  cluster.server(0).Stop();
  EXPECT_EQ(cluster.server(0).stats().rejected, 2u);  // table 9 and the bad push
}

// Writes every server's shard of step `step` and the manifest, as
// ParameterServer::SaveCheckpoint does (without a scheduler). REQUIRES: no
// request in flight.
void SaveAll(PsCluster* cluster, int servers, const std::string& root, int64_t step) {
  Manifest manifest;
  manifest.job_name = "restore-test";
  manifest.step = step;
  manifest.num_servers = servers;
  for (const EmbeddingTable* t : cluster->server(0).tables()) {
    manifest.tables.push_back(DescribeTable(*t));
  }
  for (int s = 0; s < servers; ++s) {
    ShardFileInfo info;
    ASSERT_TRUE(
        SaveShard(Env::Default(), root, s, servers, cluster->server(s).tables(), step, &info).ok());
    manifest.files.push_back(info);
  }
  ASSERT_TRUE(WriteManifest(Env::Default(), root, manifest).ok());
}

// Early stopping rolls serving servers back to a given step: rows pushed or
// created after it are gone, and pulls read the step's values.
TEST(PsClientTest, ServingServersRestoreAGivenStep) {
  const TableSpec spec = Spec(2, 3, OptimizerKind::kAdagrad, 0.5f);
  PsCluster cluster(2, {spec});
  const std::string dir = ::testing::TempDir() + "/ps_restore_" + std::to_string(getpid());
  const std::string root = dir + "/checkpoints";
  std::vector<uint64_t> old_keys = {1, 2, 3, 1ULL << 45}, new_keys = {77, 78, 79};
  std::vector<float> grads(old_keys.size() * 3, 0.25f), at_step5(old_keys.size() * 3),
      later(old_keys.size() * 3), got(old_keys.size() * 3);
  PsClient& ps = cluster.client();
  ASSERT_TRUE(ps.Push(2, old_keys.data(), old_keys.size(), grads.data(), 1).Wait().ok());
  ASSERT_TRUE(ps.Pull(2, old_keys.data(), old_keys.size(), at_step5.data()).Wait().ok());
  SaveAll(&cluster, 2, root, 5);
  // Later steps change the old rows and create new ones.
  ASSERT_TRUE(ps.Push(2, old_keys.data(), old_keys.size(), grads.data(), 6).Wait().ok());
  std::vector<float> scratch(new_keys.size() * 3);
  ASSERT_TRUE(ps.Pull(2, new_keys.data(), new_keys.size(), scratch.data()).Wait().ok());
  ASSERT_TRUE(ps.Pull(2, old_keys.data(), old_keys.size(), later.data()).Wait().ok());
  ASSERT_NE(later, at_step5);
  SaveAll(&cluster, 2, root, 9);

  for (int s = 0; s < 2; ++s) {
    auto restored = cluster.server(s).RestoreCheckpoint(Env::Default(), root, 5);
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_EQ(*restored, 5);
  }
  size_t rows = 0;
  for (int s = 0; s < 2; ++s) {
    for (const EmbeddingTable* t : cluster.server(s).tables()) rows += t->stats().rows;
  }
  EXPECT_EQ(rows, old_keys.size());  // the rows of step 5 only
  ASSERT_TRUE(ps.Pull(2, old_keys.data(), old_keys.size(), got.data()).Wait().ok());
  EXPECT_EQ(got, at_step5);
  // -1: the latest (LATEST names step 9).
  for (int s = 0; s < 2; ++s) {
    auto restored = cluster.server(s).RestoreCheckpoint(Env::Default(), root);
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_EQ(*restored, 9);
  }
  ASSERT_TRUE(ps.Pull(2, old_keys.data(), old_keys.size(), got.data()).Wait().ok());
  EXPECT_EQ(got, later);
  // A step without a checkpoint is an error naming it; the tables stay.
  auto missing = cluster.server(0).RestoreCheckpoint(Env::Default(), root, 7);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("step-7"), std::string::npos) << missing.status();
  std::filesystem::remove_all(dir);
}

// The meta-learning inner loop and outer signal run on a private copy: with
// the task's rows pulled read-only (as meta-train's evaluation does) nothing
// on the servers changes, neither a row nor the row count.
TEST(PsClientTest, MetaInnerLoopNeverWritesToTheServers) {
  PsCluster cluster(2,
                    {Spec(0, 4, OptimizerKind::kSgd, 0.5f), Spec(1, 1, OptimizerKind::kSgd, 0.5f)});
  BatchSchema schema;
  schema.slots = {{"user", false}, {"item", false}};
  Batch data;
  data.Reset(schema);
  for (int i = 0; i < 12; ++i) {
    data.AddKey(0, 1001);
    data.AddKey(1, 2000 + static_cast<uint64_t>(i % 5));
    data.FinishExample(static_cast<float>(1 + i % 5), 0, 1, static_cast<uint64_t>(i % 5), i);
  }
  // Rows the job already has: the items 0..2, created and trained.
  const std::vector<uint64_t> trained = {2000, 2001, 2002};
  std::vector<float> rows(trained.size() * 4), grads(trained.size() * 4, 0.25f);
  ASSERT_TRUE(cluster.client().Pull(0, trained.data(), trained.size(), rows.data()).Wait().ok());
  ASSERT_TRUE(
      cluster.client().Push(0, trained.data(), trained.size(), grads.data(), 1).Wait().ok());
  auto snapshot = [&] {
    std::map<std::pair<uint32_t, uint64_t>, std::vector<float>> all;
    for (int s = 0; s < 2; ++s) {
      for (const EmbeddingTable* t : cluster.server(s).tables()) {
        t->ForEachRow([&](uint64_t key, const float* row) {
          all[{t->spec().id, key}].assign(row, row + t->dim());
        });
      }
    }
    return all;
  };
  const auto before = snapshot();
  ASSERT_EQ(before.size(), 3u);

  auto backend = MakeCpuBackend();
  ModelOptions o;
  o.family = "mf";
  o.embedding_dim = 4;
  o.loss = LossKind::kSquared;
  auto model = CreateModel(o, schema, backend.get()).value();
  TaskBatch task;
  EmbeddingBatchBuilder builder;
  task.Build(data, schema, {0, 1, 2, 3, 4, 5, 6, 7}, {8, 9, 10, 11}, 0, true, SharedTaskKey(0), 4,
             model.get(), &builder);
  const auto& keys = task.emb.tables[0].keys;
  for (TableRows& t : task.emb.tables) {
    ASSERT_TRUE(cluster.client()
                    .Pull(t.table_id, keys.data(), keys.size(), t.rows.data(), true,
                          PsClient::PullMode::kReadOnly)
                    .Wait()
                    .ok());
  }
  std::vector<float> dense = {3.0f}, signal;
  const float decay[2] = {0, 0};
  for (MetaAlgorithm a : {MetaAlgorithm::kFomaml, MetaAlgorithm::kReptile, MetaAlgorithm::kNone}) {
    ASSERT_TRUE(
        OuterSignal(model.get(), &task, a, {5, 0.1f, AdaptScope::kAll}, &dense, decay, &signal)
            .ok());
  }
  ASSERT_TRUE(
      Adapt(model.get(), &task, TaskPart::kSupport, {5, 0.1f, AdaptScope::kAll}, &dense).ok());
  EXPECT_EQ(snapshot(), before);
}

}  // namespace
}  // namespace metaps

namespace metaps {
namespace {

// Model selection's trials each get their own tables on running servers: a
// table created while serving behaves as one declared at start, and a dropped
// one leaves no row, no memory and no held push behind, and the other tables
// untouched.
TEST(PsClientTest, TablesCreatedAndDroppedWhileServing) {
  const TableSpec base = Spec(0, 4, OptimizerKind::kSgd, 0.1f);
  PsCluster cluster(2, {base});
  std::vector<uint64_t> keys(3000);
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = Mix64(i + 1);
  std::vector<float> base_before(keys.size() * 4), base_after(keys.size() * 4);
  ASSERT_TRUE(cluster.client().Pull(0, keys.data(), keys.size(), base_before.data()).Wait().ok());
  const size_t bytes_before = cluster.server(0).TableBytes() + cluster.server(1).TableBytes();

  const TableSpec trial = Spec(5, 16, OptimizerKind::kAdagrad, 0.1f);
  for (int s = 0; s < 2; ++s) ASSERT_TRUE(cluster.server(s).CreateTable(trial, kSeed).ok());
  EXPECT_EQ(cluster.server(0).CreateTable(trial, kSeed).code(), StatusCode::kAlreadyExists);
  cluster.client().AddTable(5, 16);
  // Pull, push, pull: the same rows as one table doing the same.
  auto reference = EmbeddingTable::Create(trial, kSeed).value();
  std::vector<float> rows(keys.size() * 16), grads(keys.size() * 16), want(keys.size() * 16);
  for (size_t i = 0; i < grads.size(); ++i) grads[i] = 0.001f * static_cast<float>(i % 97);
  ASSERT_TRUE(cluster.client().Pull(5, keys.data(), keys.size(), rows.data()).Wait().ok());
  ASSERT_TRUE(cluster.client().Push(5, keys.data(), keys.size(), grads.data(), 1).Wait().ok());
  ASSERT_TRUE(cluster.client().Pull(5, keys.data(), keys.size(), rows.data()).Wait().ok());
  ASSERT_TRUE(reference->Pull(keys.data(), keys.size(), want.data()).ok());
  ASSERT_TRUE(reference->Push(keys.data(), keys.size(), grads.data(), 1).ok());
  ASSERT_TRUE(reference->Pull(keys.data(), keys.size(), want.data()).ok());
  EXPECT_EQ(rows, want);
  const size_t bytes_full = cluster.server(0).TableBytes() + cluster.server(1).TableBytes();
  EXPECT_GT(bytes_full, bytes_before + keys.size() * 16 * sizeof(float));

  for (int s = 0; s < 2; ++s) ASSERT_TRUE(cluster.server(s).DropTable(5).ok());
  cluster.client().RemoveTable(5);
  EXPECT_EQ(cluster.server(0).DropTable(5).code(), StatusCode::kNotFound);
  for (int s = 0; s < 2; ++s) EXPECT_EQ(cluster.server(s).TableIds(), std::vector<uint32_t>{0});
  EXPECT_EQ(cluster.server(0).TableBytes() + cluster.server(1).TableBytes(), bytes_before);
  // The client, if it still asked, would get the server's error.
  cluster.client().AddTable(5, 16);
  Status gone = cluster.client().Pull(5, keys.data(), 10, rows.data()).Wait();
  EXPECT_NE(gone.message().find("has no table id 5"), std::string::npos) << gone;
  // The other table is as it was.
  ASSERT_TRUE(cluster.client().Pull(0, keys.data(), keys.size(), base_after.data()).Wait().ok());
  EXPECT_EQ(base_after, base_before);

  // The id again, with another dim and optimizer: fresh rows only.
  const TableSpec again = Spec(5, 8, OptimizerKind::kAdam, 0.01f);
  for (int s = 0; s < 2; ++s) ASSERT_TRUE(cluster.server(s).CreateTable(again, kSeed + 1).ok());
  cluster.client().AddTable(5, 8);
  std::vector<float> fresh(20 * 8), initial(20 * 8);
  ASSERT_TRUE(cluster.client().Pull(5, keys.data(), 20, fresh.data()).Wait().ok());
  auto fresh_reference = EmbeddingTable::Create(again, kSeed + 1).value();
  for (size_t i = 0; i < 20; ++i) fresh_reference->InitialValue(keys[i], &initial[i * 8]);
  EXPECT_EQ(fresh, initial);
  size_t rows_of_5 = 0;
  for (int s = 0; s < 2; ++s) {
    cluster.server(s).Stop();
    for (const EmbeddingTable* t : cluster.server(s).tables()) {
      if (t->spec().id == 5) rows_of_5 += t->stats().rows;
    }
  }
  EXPECT_EQ(rows_of_5, 20u);
}

// A BSP push held for the other workers is answered when its table is dropped.
TEST(PsClientTest, DroppingATableAnswersItsHeldPushes) {
  PsCluster cluster(1, {Spec(0, 4, OptimizerKind::kSgd, 0.1f)}, /*bsp_workers=*/2);
  ASSERT_TRUE(cluster.server(0).CreateTable(Spec(6, 4, OptimizerKind::kSgd, 0.1f), kSeed).ok());
  cluster.client().AddTable(6, 4);
  const uint64_t key = 42;
  const std::vector<float> grad(4, 1.0f);
  PsFuture held = cluster.client().Push(6, &key, 1, grad.data(), 1, /*every_server=*/true);
  // Each HeldPushes() is a round trip to the server's loop: no sleep.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (cluster.server(0).HeldPushes() == 0 && std::chrono::steady_clock::now() < deadline) {
  }
  ASSERT_EQ(cluster.server(0).HeldPushes(), 1u);
  ASSERT_TRUE(cluster.server(0).DropTable(6).ok());
  Status s = held.Wait();
  EXPECT_EQ(s.code(), StatusCode::kAborted) << s;
  EXPECT_NE(s.message().find("table 6 was dropped"), std::string::npos) << s;
  EXPECT_EQ(cluster.server(0).TableIds(), std::vector<uint32_t>{0});
}

}  // namespace
}  // namespace metaps
