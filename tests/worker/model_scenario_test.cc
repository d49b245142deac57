// Model families, continued: scenario routing of multi_scenario, the dense
// layouts, option errors, and a deepfm learning sanity check.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "tests/worker/model_test_util.h"
#include "worker/model.h"

namespace metaps {
namespace {

using testing_util::MakeEmbeddingBatch;
using testing_util::MixedSchema;
using testing_util::RandomBatch;

constexpr int kDim = 4;

class ModelOptionsTest : public ::testing::Test {
 protected:
  ModelOptions Options(const std::string& family, std::vector<int> hidden) const {
    ModelOptions options;
    options.family = family;
    options.embedding_dim = kDim;
    options.hidden = std::move(hidden);
    return options;
  }
  std::unique_ptr<Model> Create(const ModelOptions& options) {
    StatusOr<std::unique_ptr<Model>> model = CreateModel(options, schema_, backend_.get());
    EXPECT_TRUE(model.ok()) << model.status();
    return model.ok() ? std::move(*model) : nullptr;
  }
  Status CreateError(const ModelOptions& options) {
    return CreateModel(options, schema_, backend_.get()).status();
  }

  BatchSchema schema_ = MixedSchema();  // 4 slots, 2 dense features
  std::unique_ptr<KernelBackend> backend_ = MakeCpuBackend();
};

TEST_F(ModelOptionsTest, DenseLayoutSizes) {
  // Input width of deepfm and multi_scenario: 4 slots * 4 + 2 dense = 18.
  EXPECT_EQ(Create(Options("mf", {}))->num_dense(), 1u);
  EXPECT_EQ(Create(Options("ncf", {8, 4}))->num_dense(), (4u * 8 + 8) + (8 * 4 + 4) + (4 + 1));
  EXPECT_EQ(Create(Options("ncf", {}))->num_dense(), 4u + 1);
  EXPECT_EQ(Create(Options("deepfm", {8}))->num_dense(), 1u + 2 + (18 * 8 + 8) + (8 + 1));
  ModelOptions fm = Options("deepfm", {8});
  fm.use_mlp = false;
  EXPECT_EQ(Create(fm)->num_dense(), 1u + 2);
  ModelOptions ms = Options("multi_scenario", {8, 6});
  ms.num_scenarios = 3;
  EXPECT_EQ(Create(ms)->num_dense(), (18u * 8 + 8) + 3 * ((8 * 6 + 6) + (6 + 1)));
  EXPECT_TRUE(Create(Options("mf", {}))->NeedsLinearTable());
  EXPECT_TRUE(Create(fm)->NeedsLinearTable());
  // ncf keeps b_u and b_i in the linear table, as mf does.
  EXPECT_TRUE(Create(Options("ncf", {}))->NeedsLinearTable());
  EXPECT_TRUE(Create(Options("ncf", {8, 4}))->NeedsLinearTable());
  EXPECT_FALSE(Create(ms)->NeedsLinearTable());
}

TEST_F(ModelOptionsTest, EachExampleUsesItsScenarioTower) {
  ModelOptions options = Options("multi_scenario", {8, 6});
  options.num_scenarios = 3;
  std::unique_ptr<Model> model = Create(options);
  ASSERT_NE(model, nullptr);
  std::vector<float> dense(model->num_dense());
  model->InitDense(5, dense.data());
  Batch batch = RandomBatch(schema_, 12, 51, false, /*num_scenarios=*/2);  // no scenario 2
  for (size_t i = 0; i < 4; ++i) batch.scenario_ids[i] = 1;
  EmbeddingBatch emb = MakeEmbeddingBatch(batch, kDim, false, 52);
  std::vector<float> before(batch.size()), after(batch.size()), grad(dense.size());
  ASSERT_TRUE(model->ForwardBackward(batch, emb, dense.data(), grad.data(), before.data()).ok());

  const size_t bottom = 18 * 8 + 8, tower = (8 * 6 + 6) + (6 + 1);
  // No example of scenario 2: its tower gets no gradient, the others do.
  auto tower_grad_norm = [&](size_t k) {
    double sum = 0;
    for (size_t p = bottom + k * tower; p < bottom + (k + 1) * tower; ++p) sum += grad[p] * grad[p];
    return sum;
  };
  EXPECT_GT(tower_grad_norm(0), 0.0);
  EXPECT_GT(tower_grad_norm(1), 0.0);
  EXPECT_EQ(tower_grad_norm(2), 0.0);

  // Changing tower 1 moves exactly the predictions of scenario-1 examples.
  for (size_t p = bottom + tower; p < bottom + 2 * tower; ++p) dense[p] += 0.3f;
  ASSERT_TRUE(model->Forward(batch, emb, dense.data(), after.data()).ok());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch.scenario_ids[i] == 1) {
      EXPECT_NE(after[i], before[i]) << "example " << i;
    } else {
      EXPECT_EQ(after[i], before[i]) << "example " << i;
    }
  }
}

TEST_F(ModelOptionsTest, ScenarioIdOutOfRangeNamesTheExample) {
  ModelOptions options = Options("multi_scenario", {8});
  options.num_scenarios = 2;
  std::unique_ptr<Model> model = Create(options);
  ASSERT_NE(model, nullptr);
  std::vector<float> dense(model->num_dense()), grad(dense.size());
  Batch batch = RandomBatch(schema_, 5, 61, false, 2);
  batch.scenario_ids[3] = 7;
  EmbeddingBatch emb = MakeEmbeddingBatch(batch, kDim, false, 62);
  std::vector<float> predictions(batch.size());
  Status status = model->Forward(batch, emb, dense.data(), predictions.data());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("example 3"), std::string::npos) << status;
  EXPECT_NE(status.message().find("scenario id 7"), std::string::npos) << status;
  StatusOr<double> loss =
      model->ForwardBackward(batch, emb, dense.data(), grad.data(), predictions.data());
  EXPECT_EQ(loss.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ModelOptionsTest, BadOptionsAreClearErrors) {
  Status status = CreateError(Options("wide_and_deep", {}));
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("'wide_and_deep' is unknown"), std::string::npos) << status;

  ModelOptions missing_user = Options("mf", {});
  missing_user.user_slots = {"user", "age"};
  status = CreateError(missing_user);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("user_slots: slot 'age' is not in the data schema"),
            std::string::npos)
      << status;

  ModelOptions missing_item = Options("ncf", {4});
  missing_item.item_slots = {"movie"};
  status = CreateError(missing_item);
  EXPECT_NE(status.message().find("item_slots: slot 'movie'"), std::string::npos) << status;

  ModelOptions no_scenarios = Options("multi_scenario", {4});
  no_scenarios.num_scenarios = 0;
  EXPECT_NE(CreateError(no_scenarios).message().find("num_scenarios"), std::string::npos);

  ModelOptions zero_width = Options("deepfm", {8, 0});
  EXPECT_NE(CreateError(zero_width).message().find("hidden[1]"), std::string::npos);

  ModelOptions zero_dim = Options("deepfm", {8});
  zero_dim.embedding_dim = 0;
  EXPECT_NE(CreateError(zero_dim).message().find("embedding_dim"), std::string::npos);
}

TEST_F(ModelOptionsTest, DeepFmLearnsASeparableBatchWithSgd) {
  ModelOptions options = Options("deepfm", {8});
  std::unique_ptr<Model> model = Create(options);
  ASSERT_NE(model, nullptr);
  std::vector<float> dense(model->num_dense()), grad(dense.size());
  model->InitDense(9, dense.data());
  // Items 2000 and 2001 are clicked, the other three are not.
  Batch batch = RandomBatch(schema_, 32, 71, false);
  for (size_t i = 0; i < batch.size(); ++i) {
    batch.labels[i] = batch.slots[1].keys[i] < 2002 ? 1.0f : 0.0f;
  }
  EmbeddingBatch emb = MakeEmbeddingBatch(batch, kDim, true, 72, /*scale=*/0.05f);
  std::vector<float> predictions(batch.size());
  const float lr = 0.5f;
  double first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    std::fill(grad.begin(), grad.end(), 0.0f);
    for (TableRows& table : emb.tables) std::fill(table.grads.begin(), table.grads.end(), 0.0f);
    StatusOr<double> loss =
        model->ForwardBackward(batch, emb, dense.data(), grad.data(), predictions.data());
    ASSERT_TRUE(loss.ok()) << loss.status();
    (step == 0 ? first : last) = *loss / batch.size();
    for (size_t k = 0; k < dense.size(); ++k) dense[k] -= lr * grad[k];
    for (TableRows& table : emb.tables) {
      for (size_t k = 0; k < table.rows.size(); ++k) table.rows[k] -= lr * table.grads[k];
    }
  }
  EXPECT_LT(last, 0.25 * first) << "first " << first << " last " << last;
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(predictions[i] > 0.5f, batch.labels[i] > 0.5f) << "example " << i;
  }
}

}  // namespace
}  // namespace metaps
