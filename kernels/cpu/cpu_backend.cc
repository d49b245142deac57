#include "kernels/cpu/cpu_backend.h"

#include <Eigen/Core>

namespace metaps {
namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Stride = Eigen::OuterStride<>;
using ConstMat = Eigen::Map<const RowMajor, Eigen::Unaligned, Stride>;
using Mat = Eigen::Map<RowMajor, Eigen::Unaligned, Stride>;
using ConstVec = Eigen::Map<const Eigen::ArrayXf>;
using Vec = Eigen::Map<Eigen::ArrayXf>;

// C = alpha * A * B + beta * C for already transposed views A and B.
template <typename A, typename B>
void GemmInto(const A& a, const B& b, float alpha, float beta, Mat& c) {
  if (beta == 0.0f) {
    c.noalias() = alpha * (a * b);
  } else {
    if (beta != 1.0f) c *= beta;
    c.noalias() += alpha * (a * b);
  }
}

class CpuBackend final : public KernelBackend {
 public:
  const char* name() const override { return "cpu"; }

  void Gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
            const float* b, int ldb, float beta, float* c, int ldc) override {
    if (m <= 0 || n <= 0) return;
    Mat cm(c, m, n, Stride(ldc));
    if (k <= 0) {
      if (beta == 0.0f) {
        cm.setZero();
      } else {
        cm *= beta;
      }
      return;
    }
    ConstMat am(a, trans_a ? k : m, trans_a ? m : k, Stride(lda));
    ConstMat bm(b, trans_b ? n : k, trans_b ? k : n, Stride(ldb));
    if (!trans_a && !trans_b) GemmInto(am, bm, alpha, beta, cm);
    if (!trans_a && trans_b) GemmInto(am, bm.transpose(), alpha, beta, cm);
    if (trans_a && !trans_b) GemmInto(am.transpose(), bm, alpha, beta, cm);
    if (trans_a && trans_b) GemmInto(am.transpose(), bm.transpose(), alpha, beta, cm);
  }

  void AddBias(int rows, int cols, const float* bias, float* y, int ldy) override {
    if (rows <= 0 || cols <= 0) return;
    Mat ym(y, rows, cols, Stride(ldy));
    ym.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias, cols);
  }

  void BiasGrad(int rows, int cols, float alpha, const float* dy, int lddy,
                float* bias_grad) override {
    if (rows <= 0 || cols <= 0) return;
    ConstMat dym(dy, rows, cols, Stride(lddy));
    Eigen::Map<Eigen::RowVectorXf>(bias_grad, cols) += alpha * dym.colwise().sum();
  }

  void Relu(size_t n, const float* x, float* y) override { Vec(y, n) = ConstVec(x, n).max(0.0f); }

  void ReluGrad(size_t n, const float* y, const float* dy, float* dx) override {
    Vec(dx, n) = (ConstVec(y, n) > 0.0f).select(ConstVec(dy, n), 0.0f);
  }

  void Sigmoid(size_t n, const float* x, float* y) override {
    // exp(-x) overflows to inf for x < -88, which still gives the right 0.
    Vec(y, n) = (1.0f + (-ConstVec(x, n)).exp()).inverse();
  }

  void Mul(size_t n, const float* a, const float* b, float* y) override {
    Vec(y, n) = ConstVec(a, n) * ConstVec(b, n);
  }

  void RowSum(int rows, int cols, const float* x, int ldx, float* y) override {
    if (rows <= 0) return;
    Eigen::Map<Eigen::VectorXf> ym(y, rows);
    if (cols <= 0) {
      ym.setZero();
      return;
    }
    ym = ConstMat(x, rows, cols, Stride(ldx)).rowwise().sum();
  }

  void RowDot(int rows, int cols, const float* a, int lda, const float* b, int ldb,
              float* y) override {
    if (rows <= 0) return;
    Eigen::Map<Eigen::VectorXf> ym(y, rows);
    if (cols <= 0) {
      ym.setZero();
      return;
    }
    ym = ConstMat(a, rows, cols, Stride(lda))
             .cwiseProduct(ConstMat(b, rows, cols, Stride(ldb)))
             .rowwise()
             .sum();
  }
};

}  // namespace

std::unique_ptr<KernelBackend> MakeCpuBackend() { return std::make_unique<CpuBackend>(); }

}  // namespace metaps
