// KernelBackend: the device-agnostic dense kernels the models are built from.
//
// All matrices are row-major float arrays addressed by raw pointers with a
// leading dimension (the distance in floats between two rows), so a column
// block of a wider matrix can be passed without a copy. Pointers live in the
// backend's memory space (host for the CPU backend). The CPU backend
// (kernels/cpu/) is the specification; other backends are tested against it
// with a tolerance. A backend may keep scratch state: one instance per thread.
#pragma once

#include <cstddef>

namespace metaps {

class KernelBackend {
 public:
  virtual ~KernelBackend() = default;

  virtual const char* name() const = 0;

  // C = alpha * op(A) * op(B) + beta * C, with op(A) m x k, op(B) k x n, C m x n.
  // A is stored m x k (k x m when trans_a), B k x n (n x k when trans_b).
  // With beta == 0, C is not read (it may hold NaN).
  virtual void Gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                    int lda, const float* b, int ldb, float beta, float* c, int ldc) = 0;

  // y[i][j] += bias[j] for the rows x cols matrix y.
  virtual void AddBias(int rows, int cols, const float* bias, float* y, int ldy) = 0;
  // bias_grad[j] += alpha * sum_i dy[i][j] (the column sums).
  virtual void BiasGrad(int rows, int cols, float alpha, const float* dy, int lddy,
                        float* bias_grad) = 0;

  // Elementwise over n contiguous floats; y may alias x (and dx may alias dy).
  virtual void Relu(size_t n, const float* x, float* y) = 0;
  // dx = dy where y > 0, else 0; y is the ReLU's output.
  virtual void ReluGrad(size_t n, const float* y, const float* dy, float* dx) = 0;
  virtual void Sigmoid(size_t n, const float* x, float* y) = 0;
  // y = a * b.
  virtual void Mul(size_t n, const float* a, const float* b, float* y) = 0;

  // y[i] = sum_j x[i][j].
  virtual void RowSum(int rows, int cols, const float* x, int ldx, float* y) = 0;
  // y[i] = sum_j a[i][j] * b[i][j] (row-wise dot products).
  virtual void RowDot(int rows, int cols, const float* a, int lda, const float* b, int ldb,
                      float* y) = 0;
};

}  // namespace metaps
