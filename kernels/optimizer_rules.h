// Row-wise update rules of the server-side optimizers, written once as pure
// host-device functions over raw float pointers so that the CPU server and any
// CUDA kernel apply exactly the same arithmetic.
//
// Row layout (row_floats = dim + OptimizerStateFloats(kind, dim)):
//   sgd:     value[dim]
//   adagrad: value[dim] accumulator[dim]
//   adam:    value[dim] m[dim] v[dim] step_count
//   ftrl:    value[dim] z[dim] n[dim]        (value is derived from z and n)
// The Adam step count is stored as a float: exact up to 2^24 steps, after which
// it saturates where the bias correction is already exactly 1.
#pragma once

#include <math.h>

#include <cstdint>

#include "kernels/device_macros.h"

namespace metaps {

enum class OptimizerKind : int32_t { kSgd = 0, kAdagrad = 1, kAdam = 2, kFtrl = 3 };

// Hyper-parameters of one table's optimizer. Trivially copyable, so it can be
// passed by value to a CUDA kernel. Fields a rule does not use are ignored.
struct OptimizerParams {
  OptimizerKind kind = OptimizerKind::kSgd;
  float lr = 0.01f;                  // alpha for FTRL
  float beta1 = 0.9f;                // Adam
  float beta2 = 0.999f;              // Adam
  float eps = 1e-8f;                 // Adagrad, Adam
  float initial_accumulator = 0.1f;  // Adagrad
  float l1 = 0.0f;                   // FTRL
  float l2 = 0.0f;                   // FTRL
  float lr_power = -0.5f;            // FTRL: per-coordinate rate ~ n^lr_power
  float ftrl_beta = 1.0f;            // FTRL beta
  // L2 decay added to the gradient (g + weight_decay * w) at every update:
  // SGD, Adagrad, Adam. The trainer uses it for the dense weights, which every
  // example uses; table rows get their per-example L2 from the worker instead
  // (scaled by how often the batch uses the row), with this left at 0.
  float weight_decay = 0.0f;
  // Decoupled decay (AdamW, Loshchilov & Hutter): at every update of w,
  // w <- (1 - lr * decoupled_weight_decay) * w - lr * step, where the step is
  // computed from the undecayed w. SGD, Adagrad, Adam.
  float decoupled_weight_decay = 0.0f;
  // Adam's bias correction: false, by the row's own update count; true, by the
  // clock of the push that updates it (the job's step, as TF's LazyAdam), so a
  // row first updated late in training is not corrected as if training had
  // just begun.
  bool adam_global_step = false;
};

// The factor the decoupled decay keeps of w at one update.
METAPS_HOST_DEVICE METAPS_INLINE float DecayKeep(const OptimizerParams& p) {
  return 1.0f - p.lr * p.decoupled_weight_decay;
}

// State floats per element of the embedding dimension.
METAPS_HOST_DEVICE METAPS_INLINE int StateFloatsPerElement(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kSgd:
      return 0;
    case OptimizerKind::kAdagrad:
      return 1;
    case OptimizerKind::kAdam:
      return 2;
    case OptimizerKind::kFtrl:
      return 2;
  }
  return 0;
}

// State floats per row that do not scale with dim (Adam's step count).
METAPS_HOST_DEVICE METAPS_INLINE int StateFloatsPerRow(OptimizerKind kind) {
  return kind == OptimizerKind::kAdam ? 1 : 0;
}

METAPS_HOST_DEVICE METAPS_INLINE int OptimizerStateFloats(OptimizerKind kind, int dim) {
  return StateFloatsPerElement(kind) * dim + StateFloatsPerRow(kind);
}

// w <- keep * w - lr * (g + wd * w); keep = 1 - lr * decoupled decay.
METAPS_HOST_DEVICE METAPS_INLINE void SgdUpdate(float* w, const float* g, int dim, float lr,
                                                float weight_decay, float keep = 1.0f) {
  for (int i = 0; i < dim; ++i) {
    const float gi = g[i] + weight_decay * w[i];
    w[i] = keep * w[i] - lr * gi;
  }
}

// acc += g'^2; w <- keep * w - lr * g' / (sqrt(acc) + eps), with g' = g + wd * w.
METAPS_HOST_DEVICE METAPS_INLINE void AdagradUpdate(float* w, float* acc, const float* g, int dim,
                                                    float lr, float eps, float weight_decay,
                                                    float keep = 1.0f) {
  for (int i = 0; i < dim; ++i) {
    const float gi = g[i] + weight_decay * w[i];
    acc[i] += gi * gi;
    w[i] = keep * w[i] - lr * gi / (sqrtf(acc[i]) + eps);
  }
}

// Adam (Kingma & Ba) with L2 decay folded into the gradient. `step` is the row's
// step count, incremented here before the bias correction.
METAPS_HOST_DEVICE METAPS_INLINE void AdamUpdate(float* w, float* m, float* v, float* step,
                                                 const float* g, int dim, float lr, float beta1,
                                                 float beta2, float eps, float weight_decay,
                                                 float keep = 1.0f) {
  const float t = *step + 1.0f;
  *step = t;
  const float correction1 = 1.0f - powf(beta1, t);
  const float correction2 = 1.0f - powf(beta2, t);
  for (int i = 0; i < dim; ++i) {
    const float gi = g[i] + weight_decay * w[i];
    m[i] = beta1 * m[i] + (1.0f - beta1) * gi;
    v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    const float m_hat = m[i] / correction1;
    const float v_hat = v[i] / correction2;
    w[i] = keep * w[i] - lr * m_hat / (sqrtf(v_hat) + eps);
  }
}

// n^(-lr_power), with the common lr_power = -0.5 as an exact sqrt.
METAPS_HOST_DEVICE METAPS_INLINE float FtrlRate(float n, float lr_power) {
  return lr_power == -0.5f ? sqrtf(n) : powf(n, -lr_power);
}

// The FTRL-proximal weight as a function of z and n (McMahan et al. 2013, Alg. 1).
METAPS_HOST_DEVICE METAPS_INLINE float FtrlWeight(float z, float n, float alpha, float beta,
                                                  float l1, float l2, float lr_power) {
  if (fabsf(z) <= l1) return 0.0f;
  const float sign = z < 0.0f ? -1.0f : 1.0f;
  return -(z - sign * l1) / ((beta + FtrlRate(n, lr_power)) / alpha + l2);
}

// FTRL-proximal per coordinate: sigma = (n'^p - n^p) / alpha; z += g - sigma * w;
// n' = n + g^2; w = FtrlWeight(z, n').
METAPS_HOST_DEVICE METAPS_INLINE void FtrlUpdate(float* w, float* z, float* n, const float* g,
                                                 int dim, float alpha, float beta, float l1,
                                                 float l2, float lr_power) {
  for (int i = 0; i < dim; ++i) {
    const float gi = g[i];
    const float n_new = n[i] + gi * gi;
    const float sigma = (FtrlRate(n_new, lr_power) - FtrlRate(n[i], lr_power)) / alpha;
    z[i] += gi - sigma * w[i];
    n[i] = n_new;
    w[i] = FtrlWeight(z[i], n_new, alpha, beta, l1, l2, lr_power);
  }
}

// Initial optimizer state of a new row whose value[dim] is already initialized.
// FTRL picks z so that the derived weight equals the initial value (n = 0); when
// that is impossible (beta = l2 = 0) it starts from z = 0.
METAPS_HOST_DEVICE METAPS_INLINE void InitOptimizerState(const OptimizerParams& p, float* row,
                                                         int dim) {
  float* state = row + dim;
  switch (p.kind) {
    case OptimizerKind::kSgd:
      break;
    case OptimizerKind::kAdagrad:
      for (int i = 0; i < dim; ++i) state[i] = p.initial_accumulator;
      break;
    case OptimizerKind::kAdam:
      for (int i = 0; i < 2 * dim + 1; ++i) state[i] = 0.0f;
      break;
    case OptimizerKind::kFtrl: {
      const float denom = p.ftrl_beta / p.lr + p.l2;
      for (int i = 0; i < dim; ++i) {
        const float w0 = row[i];
        float z = 0.0f;
        if (w0 != 0.0f && denom > 0.0f) z = -w0 * denom - (w0 > 0.0f ? p.l1 : -p.l1);
        state[i] = z;
        state[dim + i] = 0.0f;
        row[i] = FtrlWeight(z, 0.0f, p.lr, p.ftrl_beta, p.l1, p.l2, p.lr_power);
      }
      break;
    }
  }
}

// Applies one gradient to one row laid out as described at the top of this file.
// `clock` is the step of the push (>= 1), used by Adam with adam_global_step.
METAPS_HOST_DEVICE METAPS_INLINE void ApplyOptimizer(const OptimizerParams& p, float* row,
                                                     const float* grad, int dim,
                                                     int64_t clock = 0) {
  switch (p.kind) {
    case OptimizerKind::kSgd:
      SgdUpdate(row, grad, dim, p.lr, p.weight_decay, DecayKeep(p));
      break;
    case OptimizerKind::kAdagrad:
      AdagradUpdate(row, row + dim, grad, dim, p.lr, p.eps, p.weight_decay, DecayKeep(p));
      break;
    case OptimizerKind::kAdam:
      // AdamUpdate counts the step it takes: it corrects by t = clock.
      if (p.adam_global_step && clock > 0) row[3 * dim] = static_cast<float>(clock - 1);
      AdamUpdate(row, row + dim, row + 2 * dim, row + 3 * dim, grad, dim, p.lr, p.beta1, p.beta2,
                 p.eps, p.weight_decay, DecayKeep(p));
      break;
    case OptimizerKind::kFtrl:
      FtrlUpdate(row, row + dim, row + 2 * dim, grad, dim, p.lr, p.ftrl_beta, p.l1, p.l2,
                 p.lr_power);
      break;
  }
}

}  // namespace metaps
