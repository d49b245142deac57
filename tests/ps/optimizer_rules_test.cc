// Each rule against the formulas evaluated independently in double precision.
#include "kernels/optimizer_rules.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace metaps {
namespace {

constexpr int kDim = 2;
const double kGrads[3][kDim] = {{0.1, -0.2}, {0.3, 0.05}, {-0.4, 0.2}};

void ExpectClose(const float* actual, const double* expected, int n) {
  for (int i = 0; i < n; ++i) {
    EXPECT_NEAR(actual[i], expected[i], 1e-6 * (1.0 + std::abs(expected[i]))) << "element " << i;
  }
}

std::vector<float> Grad(int step) {
  return {static_cast<float>(kGrads[step][0]), static_cast<float>(kGrads[step][1])};
}

TEST(OptimizerRulesTest, StateFloats) {
  EXPECT_EQ(OptimizerStateFloats(OptimizerKind::kSgd, 8), 0);
  EXPECT_EQ(OptimizerStateFloats(OptimizerKind::kAdagrad, 8), 8);
  EXPECT_EQ(OptimizerStateFloats(OptimizerKind::kAdam, 8), 17);
  EXPECT_EQ(OptimizerStateFloats(OptimizerKind::kFtrl, 8), 16);
  EXPECT_EQ(StateFloatsPerElement(OptimizerKind::kAdam), 2);
  EXPECT_EQ(StateFloatsPerRow(OptimizerKind::kAdam), 1);
}

TEST(OptimizerRulesTest, SgdWithWeightDecay) {
  const double lr = 0.1, wd = 0.01;
  double w[kDim] = {0.5, -1.0};
  float row[kDim] = {0.5f, -1.0f};
  for (int t = 0; t < 3; ++t) {
    for (int i = 0; i < kDim; ++i) w[i] -= lr * (kGrads[t][i] + wd * w[i]);
    SgdUpdate(row, Grad(t).data(), kDim, 0.1f, 0.01f);
    ExpectClose(row, w, kDim);
  }
  // Step 1 by hand: 0.5 - 0.1 * (0.1 + 0.005) = 0.4895.
  float one[1] = {0.5f};
  const float g[1] = {0.1f};
  SgdUpdate(one, g, 1, 0.1f, 0.01f);
  EXPECT_NEAR(one[0], 0.4895, 1e-7);
}

TEST(OptimizerRulesTest, Adagrad) {
  const double lr = 0.5, eps = 1e-6, wd = 0.02, acc0 = 0.1;
  double w[kDim] = {0.5, -1.0}, acc[kDim] = {acc0, acc0};
  OptimizerParams p;
  p.kind = OptimizerKind::kAdagrad;
  p.lr = 0.5f;
  p.eps = 1e-6f;
  p.weight_decay = 0.02f;
  p.initial_accumulator = 0.1f;
  float row[2 * kDim] = {0.5f, -1.0f};
  InitOptimizerState(p, row, kDim);
  EXPECT_FLOAT_EQ(row[2], 0.1f);
  for (int t = 0; t < 3; ++t) {
    for (int i = 0; i < kDim; ++i) {
      const double g = kGrads[t][i] + wd * w[i];
      acc[i] += g * g;
      w[i] -= lr * g / (std::sqrt(acc[i]) + eps);
    }
    ApplyOptimizer(p, row, Grad(t).data(), kDim);
    ExpectClose(row, w, kDim);
    ExpectClose(row + kDim, acc, kDim);
  }
}

TEST(OptimizerRulesTest, AdamWithBiasCorrectionFromRowStepCount) {
  const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.001;
  double w[kDim] = {0.5, -1.0}, m[kDim] = {0, 0}, v[kDim] = {0, 0};
  OptimizerParams p;
  p.kind = OptimizerKind::kAdam;
  p.lr = 0.01f;
  p.weight_decay = 0.001f;
  float row[3 * kDim + 1] = {0.5f, -1.0f};
  InitOptimizerState(p, row, kDim);
  for (int t = 1; t <= 3; ++t) {
    for (int i = 0; i < kDim; ++i) {
      const double g = kGrads[t - 1][i] + wd * w[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const double m_hat = m[i] / (1 - std::pow(b1, t));
      const double v_hat = v[i] / (1 - std::pow(b2, t));
      w[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
    ApplyOptimizer(p, row, Grad(t - 1).data(), kDim);
    ExpectClose(row, w, kDim);
    ExpectClose(row + kDim, m, kDim);
    ExpectClose(row + 2 * kDim, v, kDim);
    EXPECT_EQ(row[3 * kDim], static_cast<float>(t));
  }
}

TEST(OptimizerRulesTest, FtrlProximal) {
  const double alpha = 0.5, beta = 1.0, l1 = 0.05, l2 = 0.1;
  double w[kDim] = {0, 0}, z[kDim] = {0, 0}, n[kDim] = {0, 0};
  OptimizerParams p;
  p.kind = OptimizerKind::kFtrl;
  p.lr = 0.5f;
  p.ftrl_beta = 1.0f;
  p.l1 = 0.05f;
  p.l2 = 0.1f;
  float row[3 * kDim] = {0.0f, 0.0f};
  InitOptimizerState(p, row, kDim);
  const double grads[3][kDim] = {{0.3, 0.02}, {-0.1, 0.01}, {0.2, -0.04}};
  for (int t = 0; t < 3; ++t) {
    for (int i = 0; i < kDim; ++i) {
      const double g = grads[t][i];
      const double sigma = (std::sqrt(n[i] + g * g) - std::sqrt(n[i])) / alpha;
      z[i] += g - sigma * w[i];
      n[i] += g * g;
      w[i] = std::abs(z[i]) <= l1
                 ? 0.0
                 : -(z[i] - (z[i] < 0 ? -l1 : l1)) / ((beta + std::sqrt(n[i])) / alpha + l2);
    }
    const float g[kDim] = {static_cast<float>(grads[t][0]), static_cast<float>(grads[t][1])};
    ApplyOptimizer(p, row, g, kDim);
    ExpectClose(row, w, kDim);
    ExpectClose(row + kDim, z, kDim);
    ExpectClose(row + 2 * kDim, n, kDim);
  }
  EXPECT_EQ(row[1], 0.0f);  // |z| stayed within l1: sparsity
  EXPECT_NE(row[0], 0.0f);
}

TEST(OptimizerRulesTest, FtrlInitialStateReproducesTheInitialValue) {
  OptimizerParams p;
  p.kind = OptimizerKind::kFtrl;
  p.lr = 0.1f;
  p.ftrl_beta = 1.0f;
  p.l1 = 0.01f;
  p.l2 = 0.5f;
  float row[3 * 3] = {0.25f, -0.125f, 0.0f};
  InitOptimizerState(p, row, 3);
  EXPECT_NEAR(row[0], 0.25f, 1e-6);
  EXPECT_NEAR(row[1], -0.125f, 1e-6);
  EXPECT_EQ(row[2], 0.0f);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(row[6 + i], 0.0f);  // n
}

// AdamW's decoupled decay: w <- (1 - lr * dwd) * w - lr * step, the step from
// the undecayed w (here with no coupled decay, so the step is plain Adam's).
TEST(OptimizerRulesTest, AdamWithDecoupledDecay) {
  const double lr = 0.01, dwd = 0.5, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  double w[kDim] = {0.5, -1.0}, m[kDim] = {0, 0}, v[kDim] = {0, 0};
  OptimizerParams p;
  p.kind = OptimizerKind::kAdam;
  p.lr = 0.01f;
  p.decoupled_weight_decay = 0.5f;
  float row[3 * kDim + 1] = {0.5f, -1.0f};
  InitOptimizerState(p, row, kDim);
  for (int t = 0; t < 3; ++t) {
    for (int i = 0; i < kDim; ++i) {
      m[i] = b1 * m[i] + (1 - b1) * kGrads[t][i];
      v[i] = b2 * v[i] + (1 - b2) * kGrads[t][i] * kGrads[t][i];
      const double step =
          (m[i] / (1 - std::pow(b1, t + 1))) / (std::sqrt(v[i] / (1 - std::pow(b2, t + 1))) + eps);
      w[i] = (1 - lr * dwd) * w[i] - lr * step;
    }
    ApplyOptimizer(p, row, Grad(t).data(), kDim);
    ExpectClose(row, w, kDim);
  }
}

// With a zero gradient only the decay acts: SGD and Adagrad shrink w by
// exactly (1 - lr * dwd) per update; without decay nothing changes bit for bit.
TEST(OptimizerRulesTest, DecoupledDecayAloneShrinksByItsFactor) {
  for (OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kAdagrad}) {
    OptimizerParams p;
    p.kind = kind;
    p.lr = 0.1f;
    p.decoupled_weight_decay = 0.2f;
    float row[3 * kDim + 1] = {0.5f, -1.0f};  // room for any kind's state
    InitOptimizerState(p, row, kDim);
    const float zero[kDim] = {0, 0};
    ApplyOptimizer(p, row, zero, kDim);
    EXPECT_FLOAT_EQ(row[0], 0.5f * 0.98f);
    EXPECT_FLOAT_EQ(row[1], -1.0f * 0.98f);
    p.decoupled_weight_decay = 0;
    const float before[kDim] = {row[0], row[1]};
    ApplyOptimizer(p, row, zero, kDim);
    EXPECT_EQ(row[0], before[0]);
    EXPECT_EQ(row[1], before[1]);
  }
}

// Adam with adam_global_step corrects by the push's clock, not the row's count:
// a row first updated at step 100 takes the step Adam takes at t = 100.
TEST(OptimizerRulesTest, AdamGlobalStepCorrectsByThePushClock) {
  const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  double w[kDim] = {0.5, -1.0}, m[kDim] = {0, 0}, v[kDim] = {0, 0};
  OptimizerParams p;
  p.kind = OptimizerKind::kAdam;
  p.lr = 0.01f;
  p.adam_global_step = true;
  float row[3 * kDim + 1] = {0.5f, -1.0f};
  InitOptimizerState(p, row, kDim);
  const int64_t clocks[3] = {100, 105, 106};
  for (int t = 0; t < 3; ++t) {
    const double c = static_cast<double>(clocks[t]);
    for (int i = 0; i < kDim; ++i) {
      m[i] = b1 * m[i] + (1 - b1) * kGrads[t][i];
      v[i] = b2 * v[i] + (1 - b2) * kGrads[t][i] * kGrads[t][i];
      w[i] -= lr * (m[i] / (1 - std::pow(b1, c))) / (std::sqrt(v[i] / (1 - std::pow(b2, c))) + eps);
    }
    ApplyOptimizer(p, row, Grad(t).data(), kDim, clocks[t]);
    ExpectClose(row, w, kDim);
  }
  // By the row's own count, the first update is a step of about lr per coordinate.
  p.adam_global_step = false;
  float fresh[3 * kDim + 1] = {0.5f, -1.0f};
  InitOptimizerState(p, fresh, kDim);
  ApplyOptimizer(p, fresh, Grad(0).data(), kDim, 100);
  EXPECT_NEAR(fresh[0], 0.5 - 0.01, 1e-6);
}

}  // namespace
}  // namespace metaps
