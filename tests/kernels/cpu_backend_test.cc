// The CPU backend against naive loops, including strided (column-block) views.
#include "kernels/cpu/cpu_backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace metaps {
namespace {

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

class CpuBackendTest : public ::testing::Test {
 protected:
  std::unique_ptr<KernelBackend> backend_ = MakeCpuBackend();
};

TEST_F(CpuBackendTest, GemmMatchesNaiveForAllTranspositionsAndStrides) {
  const int m = 5, n = 7, k = 3;
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      for (float beta : {0.0f, 1.0f, 0.5f}) {
        // Leading dimensions wider than the matrices: views into bigger buffers.
        const int lda = (ta ? m : k) + 2, ldb = (tb ? k : n) + 1, ldc = n + 3;
        const std::vector<float> a = Random((ta ? k : m) * lda, 1);
        const std::vector<float> b = Random((tb ? n : k) * ldb, 2);
        std::vector<float> c = Random(m * ldc, 3);
        std::vector<float> want = c;
        for (int i = 0; i < m; ++i) {
          for (int j = 0; j < n; ++j) {
            double sum = 0;
            for (int p = 0; p < k; ++p) {
              const float av = ta ? a[p * lda + i] : a[i * lda + p];
              const float bv = tb ? b[j * ldb + p] : b[p * ldb + j];
              sum += static_cast<double>(av) * bv;
            }
            want[i * ldc + j] = static_cast<float>(1.5 * sum + beta * c[i * ldc + j]);
          }
        }
        if (beta == 0.0f) {
          for (int i = 0; i < m; ++i) c[i * ldc] = NAN;  // not read when beta == 0
        }
        backend_->Gemm(ta, tb, m, n, k, 1.5f, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
        for (int i = 0; i < m; ++i) {
          for (int j = 0; j < ldc; ++j) {
            EXPECT_NEAR(c[i * ldc + j], want[i * ldc + j], 1e-5)
                << "ta=" << ta << " tb=" << tb << " beta=" << beta << " at " << i << "," << j;
          }
        }
      }
    }
  }
}

TEST_F(CpuBackendTest, GemmWithEmptyInnerDimensionScalesC) {
  std::vector<float> c = {1, 2, 3, 4};
  backend_->Gemm(false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.5f, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>{0.5f, 1, 1.5f, 2}));
  backend_->Gemm(false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.0f, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>(4, 0.0f)));
}

TEST_F(CpuBackendTest, BiasAddAndColumnSums) {
  const int rows = 4, cols = 3, ld = 5;
  std::vector<float> y = Random(rows * ld, 4);
  const std::vector<float> bias = Random(cols, 5);
  std::vector<float> want = y;
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) want[i * ld + j] += bias[j];
  }
  backend_->AddBias(rows, cols, bias.data(), y.data(), ld);
  for (size_t p = 0; p < y.size(); ++p) EXPECT_FLOAT_EQ(y[p], want[p]) << p;

  std::vector<float> grad = {1, 1, 1};
  backend_->BiasGrad(rows, cols, 0.5f, y.data(), ld, grad.data());
  for (int j = 0; j < cols; ++j) {
    float sum = 0;
    for (int i = 0; i < rows; ++i) sum += y[i * ld + j];
    EXPECT_NEAR(grad[j], 1 + 0.5f * sum, 1e-6) << j;
  }
}

TEST_F(CpuBackendTest, ElementwiseOps) {
  const std::vector<float> x = {-3.0f, -0.5f, 0.0f, 0.25f, 2.0f, -100.0f, 100.0f};
  const std::vector<float> dy = {1, 2, 3, 4, 5, 6, 7};
  const size_t n = x.size();
  std::vector<float> y(n), dx(n), s(n), prod(n);
  backend_->Relu(n, x.data(), y.data());
  backend_->ReluGrad(n, y.data(), dy.data(), dx.data());
  backend_->Sigmoid(n, x.data(), s.data());
  backend_->Mul(n, x.data(), dy.data(), prod.data());
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(y[i], x[i] > 0 ? x[i] : 0.0f) << i;
    EXPECT_EQ(dx[i], x[i] > 0 ? dy[i] : 0.0f) << i;
    EXPECT_NEAR(s[i], 1.0 / (1.0 + std::exp(-static_cast<double>(x[i]))), 1e-7) << i;
    EXPECT_EQ(prod[i], x[i] * dy[i]) << i;
  }
  // In place, as the models use them.
  std::vector<float> z = x;
  backend_->Relu(n, z.data(), z.data());
  EXPECT_EQ(z, y);
}

TEST_F(CpuBackendTest, RowReductions) {
  const int rows = 3, cols = 4, lda = 6, ldb = 5;
  const std::vector<float> a = Random(rows * lda, 6);
  const std::vector<float> b = Random(rows * ldb, 7);
  std::vector<float> sums(rows), dots(rows);
  backend_->RowSum(rows, cols, a.data(), lda, sums.data());
  backend_->RowDot(rows, cols, a.data(), lda, b.data(), ldb, dots.data());
  for (int i = 0; i < rows; ++i) {
    float sum = 0, dot = 0;
    for (int j = 0; j < cols; ++j) {
      sum += a[i * lda + j];
      dot += a[i * lda + j] * b[i * ldb + j];
    }
    EXPECT_NEAR(sums[i], sum, 1e-6) << i;
    EXPECT_NEAR(dots[i], dot, 1e-6) << i;
  }
}

}  // namespace
}  // namespace metaps
