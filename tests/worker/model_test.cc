// The model families: gradients against central finite differences, scenario
// routing, deterministic init, Forward vs ForwardBackward, option and input
// errors, and a learning sanity check.
#include "worker/model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "tests/worker/model_test_util.h"
#include "worker/embedding_batch.h"

namespace metaps {
namespace {

using testing_util::CheckGradient;
using testing_util::MakeEmbeddingBatch;
using testing_util::MeanLoss;
using testing_util::MixedSchema;
using testing_util::RandomBatch;

constexpr int kDim = 4;

struct FamilyCase {
  std::string label;
  ModelOptions options;
  bool ratings = false;  // labels are ratings 1..5 (squared loss)
};

void PrintTo(const FamilyCase& c, std::ostream* os) { *os << c.label; }

ModelOptions Options(const std::string& family, std::vector<int> hidden) {
  ModelOptions options;
  options.family = family;
  options.embedding_dim = kDim;
  options.hidden = std::move(hidden);
  // User and item sides with side features: a multi-valued slot and a valued one.
  options.user_slots = {"user", "tags"};
  options.item_slots = {"item", "feat"};
  return options;
}

std::vector<FamilyCase> AllCases() {
  std::vector<FamilyCase> cases;
  FamilyCase mf{"mf_squared", Options("mf", {}), true};
  mf.options.loss = LossKind::kSquared;
  mf.options.global_bias = 3.0f;
  cases.push_back(mf);
  FamilyCase mf_logistic{"mf_logistic", Options("mf", {})};
  mf_logistic.options.user_slots = {"user"};
  mf_logistic.options.item_slots = {"item"};
  cases.push_back(mf_logistic);
  cases.push_back({"ncf_mlp", Options("ncf", {8, 4})});
  cases.push_back({"ncf_gmf", Options("ncf", {})});
  cases.push_back({"deepfm", Options("deepfm", {8, 4})});
  FamilyCase fm{"fm", Options("deepfm", {8})};
  fm.options.use_mlp = false;
  cases.push_back(fm);
  FamilyCase deepfm_squared{"deepfm_squared", Options("deepfm", {6}), true};
  deepfm_squared.options.loss = LossKind::kSquared;
  cases.push_back(deepfm_squared);
  for (std::vector<int> hidden : {std::vector<int>{8, 6}, {5}, {}}) {
    FamilyCase ms{"multi_scenario_" + std::to_string(hidden.size()) + "_layers",
                  Options("multi_scenario", hidden)};
    ms.options.num_scenarios = 3;
    cases.push_back(ms);
  }
  return cases;
}

class ModelFamilyTest : public ::testing::TestWithParam<FamilyCase> {
 protected:
  void SetUp() override {
    backend_ = MakeCpuBackend();
    StatusOr<std::unique_ptr<Model>> model =
        CreateModel(GetParam().options, schema_, backend_.get());
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
    dense_.resize(model_->num_dense());
    model_->InitDense(/*seed=*/42, dense_.data());
  }
  Batch MakeBatch(size_t n, uint32_t seed) const {
    return RandomBatch(schema_, n, seed, GetParam().ratings,
                       static_cast<uint32_t>(GetParam().options.num_scenarios));
  }
  EmbeddingBatch MakeEmb(const Batch& batch, uint32_t seed) const {
    return MakeEmbeddingBatch(batch, kDim, model_->NeedsLinearTable(), seed);
  }

  BatchSchema schema_ = MixedSchema();
  std::unique_ptr<KernelBackend> backend_;
  std::unique_ptr<Model> model_;
  std::vector<float> dense_;
};

TEST_P(ModelFamilyTest, GradientsMatchFiniteDifferences) {
  const Batch batch = MakeBatch(6, 11);
  EmbeddingBatch emb = MakeEmb(batch, 12);
  std::vector<float> dense_grad(dense_.size()), predictions(batch.size());
  StatusOr<double> loss =
      model_->ForwardBackward(batch, emb, dense_.data(), dense_grad.data(), predictions.data());
  ASSERT_TRUE(loss.ok()) << loss.status();
  EXPECT_NEAR(*loss / batch.size(), MeanLoss(*model_, batch, emb, dense_), 1e-9);

  int failures = 0;
  float max_dense = 0.0f;
  for (size_t k = 0; k < dense_.size() && failures < 10; ++k) {
    max_dense = std::max(max_dense, std::fabs(dense_grad[k]));
    if (!CheckGradient(*model_, batch, emb, dense_, &dense_[k], dense_grad[k],
                       "dense[" + std::to_string(k) + "]")) {
      ++failures;
    }
  }
  EXPECT_GT(max_dense, 1e-3f) << "the dense gradient is trivially small";
  // Every table the model reads is perturbed below, the linear one (mf's and
  // ncf's b_u, b_i; deepfm's first order) included.
  ASSERT_EQ(emb.tables.size(), model_->NeedsLinearTable() ? 2u : 1u);
  for (size_t t = 0; t < emb.tables.size(); ++t) {
    const AlignedVector<float> analytic = emb.tables[t].grads;
    float max_row = 0.0f;
    for (size_t k = 0; k < analytic.size() && failures < 10; ++k) {
      max_row = std::max(max_row, std::fabs(analytic[k]));
      if (!CheckGradient(*model_, batch, emb, dense_, &emb.tables[t].rows[k], analytic[k],
                         "table " + std::to_string(t) + " float " + std::to_string(k))) {
        ++failures;
      }
    }
    EXPECT_GT(max_row, 1e-3f) << "table " << t << " has trivially small gradients";
  }
  EXPECT_EQ(failures, 0);
}

TEST_P(ModelFamilyTest, ForwardEqualsPredictionsOfForwardBackward) {
  const Batch batch = MakeBatch(9, 21);
  EmbeddingBatch emb = MakeEmb(batch, 22);
  std::vector<float> forward(batch.size(), -1.0f), both(batch.size(), -2.0f);
  ASSERT_TRUE(model_->Forward(batch, emb, dense_.data(), forward.data()).ok());
  std::vector<float> dense_grad(dense_.size());
  ASSERT_TRUE(
      model_->ForwardBackward(batch, emb, dense_.data(), dense_grad.data(), both.data()).ok());
  EXPECT_EQ(forward, both);
  for (float p : forward) {
    EXPECT_TRUE(std::isfinite(p));
    if (GetParam().options.loss == LossKind::kLogistic) {
      EXPECT_GT(p, 0.0f);
      EXPECT_LT(p, 1.0f);
    }
  }
}

TEST_P(ModelFamilyTest, GradientsAccumulateIntoTheBuffers) {
  const Batch batch = MakeBatch(5, 31);
  EmbeddingBatch emb = MakeEmb(batch, 32);
  std::vector<float> once(dense_.size()), twice(dense_.size()), predictions(batch.size());
  ASSERT_TRUE(
      model_->ForwardBackward(batch, emb, dense_.data(), once.data(), predictions.data()).ok());
  std::vector<AlignedVector<float>> rows_once;
  for (const TableRows& table : emb.tables) rows_once.push_back(table.grads);
  twice = once;
  ASSERT_TRUE(
      model_->ForwardBackward(batch, emb, dense_.data(), twice.data(), predictions.data()).ok());
  for (size_t k = 0; k < once.size(); ++k) EXPECT_NEAR(twice[k], 2 * once[k], 1e-6) << k;
  for (size_t t = 0; t < emb.tables.size(); ++t) {
    for (size_t k = 0; k < rows_once[t].size(); ++k) {
      EXPECT_NEAR(emb.tables[t].grads[k], 2 * rows_once[t][k], 1e-6) << "table " << t << " " << k;
    }
  }
}

TEST_P(ModelFamilyTest, InitDenseIsDeterministicPerSeed) {
  std::vector<float> again(dense_.size()), other(dense_.size());
  model_->InitDense(42, again.data());
  model_->InitDense(43, other.data());
  EXPECT_EQ(dense_, again);
  if (GetParam().options.family == "mf") {
    ASSERT_EQ(dense_.size(), 1u);
    EXPECT_EQ(dense_[0], GetParam().options.global_bias);
  } else if (GetParam().options.family == "ncf" && GetParam().options.hidden.empty()) {
    // GMF starts as mf, whatever the seed: w = 1 and b = global_bias.
    EXPECT_EQ(dense_, other);
    ASSERT_EQ(dense_.size(), static_cast<size_t>(GetParam().options.embedding_dim) + 1);
    for (int k = 0; k < GetParam().options.embedding_dim; ++k) EXPECT_EQ(dense_[k], 1.0f);
    EXPECT_EQ(dense_.back(), GetParam().options.global_bias);
  } else if (GetParam().options.use_mlp) {
    EXPECT_NE(dense_, other);
  }
  // A second model built from the same options (another worker) agrees.
  StatusOr<std::unique_ptr<Model>> twin = CreateModel(GetParam().options, schema_, backend_.get());
  ASSERT_TRUE(twin.ok());
  std::vector<float> twin_dense((*twin)->num_dense());
  (*twin)->InitDense(42, twin_dense.data());
  EXPECT_EQ(dense_, twin_dense);
}

// The trainer builds EmbeddingBatches from the slots the model reads only:
// the predictions are those of a batch with every slot's rows, and a model
// that leaves slots out (mf here, whose towers use user and item) pulls fewer
// keys.
TEST_P(ModelFamilyTest, SlotsItDoesNotReadNeedNoRows) {
  const Batch batch = MakeBatch(6, 43);
  EmbeddingBatchBuilder builder;
  EmbeddingBatch all, read;
  builder.Build(batch, kDim, model_->NeedsLinearTable(), &all);
  builder.Build(batch, kDim, model_->NeedsLinearTable(), &read, model_.get());
  // Rows as a function of the key, so both batches hold the same values.
  for (EmbeddingBatch* emb : {&all, &read}) {
    for (TableRows& table : emb->tables) {
      for (size_t u = 0; u < table.keys.size(); ++u) {
        for (int j = 0; j < table.dim; ++j) {
          const uint64_t h = (table.keys[u] * 2654435761u + static_cast<uint64_t>(j) * 97) % 1000;
          table.rows[u * static_cast<size_t>(table.dim) + j] = static_cast<float>(h) / 2000.0f;
        }
      }
    }
  }
  std::vector<float> p_all(batch.size()), p_read(batch.size());
  ASSERT_TRUE(model_->Forward(batch, all, dense_.data(), p_all.data()).ok());
  ASSERT_TRUE(model_->Forward(batch, read, dense_.data(), p_read.data()).ok());
  EXPECT_EQ(p_all, p_read);
  bool skips = false;
  for (size_t s = 0; s < batch.slots.size(); ++s) {
    skips = skips || (!model_->ReadsSlot(s) && !batch.slots[s].keys.empty());
    if (!model_->ReadsSlot(s)) {
      EXPECT_TRUE(read.row_index[s].empty()) << "slot " << s;
    }
  }
  if (skips) {
    EXPECT_LT(read.tables[0].keys.size(), all.tables[0].keys.size());
  } else {
    EXPECT_EQ(read.tables[0].keys, all.tables[0].keys);
  }
  if (GetParam().label == "mf_logistic") {
    EXPECT_TRUE(skips);  // it reads 2 of the 4 slots
  }
}

TEST_P(ModelFamilyTest, MismatchedEmbeddingBatchIsAnError) {
  const Batch batch = MakeBatch(4, 41);
  EmbeddingBatch emb = MakeEmb(batch, 42);
  std::vector<float> predictions(batch.size());
  EmbeddingBatch short_index = emb;
  short_index.row_index[2].push_back(0);
  Status status = model_->Forward(batch, short_index, dense_.data(), predictions.data());
  if (model_->ReadsSlot(2)) {
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find("slot 'tags'"), std::string::npos) << status;
  } else {
    EXPECT_TRUE(status.ok()) << status;  // a slot the model does not read is not checked
  }
  EmbeddingBatch bad_row = emb;
  bad_row.row_index[0][0] = static_cast<uint32_t>(emb.tables[0].keys.size());
  status = model_->Forward(batch, bad_row, dense_.data(), predictions.data());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("slot 'user'"), std::string::npos) << status;
}

INSTANTIATE_TEST_SUITE_P(Families, ModelFamilyTest, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<FamilyCase>& info) {
                           return info.param.label;
                         });

// Per-example L2: a row used c times by a batch of n examples gets
// decay * c / n * w added to its gradient, counted over every slot.
TEST(PerExampleL2Test, ScalesEachRowByItsUsesInTheBatch) {
  BatchSchema schema;
  schema.slots = {{"a", false}, {"b", false}};
  Batch batch;
  batch.Reset(schema);
  const uint64_t a[4] = {7, 7, 9, 7}, b[4] = {9, 11, 11, 7};
  for (int i = 0; i < 4; ++i) {
    batch.AddKey(0, a[i]);
    batch.AddKey(1, b[i]);
    batch.FinishExample(1.0f);
  }
  EmbeddingBatch emb;
  EmbeddingBatchBuilder().Build(batch, 2, /*with_linear=*/true, &emb);
  for (TableRows& t : emb.tables) {
    for (size_t i = 0; i < t.rows.size(); ++i) t.rows[i] = 0.5f + static_cast<float>(i);
    for (size_t i = 0; i < t.grads.size(); ++i) t.grads[i] = 1.0f;  // a data gradient
  }
  const float decay[2] = {0.5f, 0.25f};
  std::vector<uint32_t> uses;
  AddPerExampleL2(batch.size(), decay, &uses, &emb);
  const std::map<uint64_t, int> expected_uses = {{7, 4}, {9, 2}, {11, 2}};
  ASSERT_EQ(emb.tables[0].keys.size(), 3u);
  for (const TableRows& t : emb.tables) {
    for (size_t r = 0; r < t.keys.size(); ++r) {
      const int c = expected_uses.at(t.keys[r]);
      for (int j = 0; j < t.dim; ++j) {
        const size_t i = r * static_cast<size_t>(t.dim) + static_cast<size_t>(j);
        EXPECT_FLOAT_EQ(t.grads[i], 1.0f + decay[t.table_id] * c / 4.0f * t.rows[i])
            << "table " << t.table_id << " key " << t.keys[r];
      }
    }
  }
  // No decay, no change.
  const AlignedVector<float> before = emb.tables[0].grads;
  const float none[2] = {0, 0};
  AddPerExampleL2(batch.size(), none, &uses, &emb);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), emb.tables[0].grads.begin()));
}

}  // namespace
}  // namespace metaps
