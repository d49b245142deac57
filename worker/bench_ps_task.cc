#include "worker/bench_ps_task.h"

#include <chrono>

#include "common/aligned_vector.h"

namespace metaps {
namespace {

using Clock = std::chrono::steady_clock;
double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// A few request key sets generated up front, so the timed loop measures the
// PS and not the random-number generator.
constexpr int kKeyPool = 8;

}  // namespace

StatusOr<BenchPsResult> RunBenchPs(PsClient* ps, int worker_index, const BenchPsOptions& o) {
  const size_t n = o.workload.keys_per_request;
  const size_t dim = static_cast<size_t>(o.dim);
  AlignedVector<float> rows(n * dim), grads(n * dim);
  std::vector<std::vector<uint64_t>> pool(o.steps > 0 ? 1 : kKeyPool, std::vector<uint64_t>(n));
  if (o.steps == 0) {
    for (int p = 0; p < kKeyPool; ++p) BenchKeys(o.workload, worker_index, p, pool[p].data());
    for (size_t i = 0; i < grads.size(); ++i) grads[i] = 1e-3f * static_cast<float>(i % 7);
  }
  BenchPsResult result;
  const auto start = Clock::now();
  bool measuring = o.steps > 0 || o.warmup_seconds <= 0;
  auto measure_start = start;
  for (int64_t step = 0;; ++step) {
    const auto now = Clock::now();
    if (o.steps > 0) {
      if (step >= o.steps) break;
    } else if (!measuring && Seconds(now - start) >= o.warmup_seconds) {
      measuring = true;
      measure_start = now;
    } else if (measuring && Seconds(now - measure_start) >= o.seconds) {
      break;
    }
    const std::vector<uint64_t>* keys = &pool[static_cast<size_t>(step % kKeyPool)];
    if (o.steps > 0) {
      BenchKeys(o.workload, worker_index, step, pool[0].data());
      keys = &pool[0];
      for (size_t i = 0; i < n; ++i) {
        for (size_t d = 0; d < dim; ++d) {
          grads[i * dim + d] = BenchGradient(worker_index, step, (*keys)[i], static_cast<int>(d));
        }
      }
    }
    const auto t0 = Clock::now();
    auto t1 = t0;
    if (o.shared_plan) {
      KeyPlan plan;
      RETURN_IF_ERROR(ps->PullAndPlan(0, keys->data(), n, rows.data(), &plan).Wait());
      t1 = Clock::now();
      RETURN_IF_ERROR(ps->Push(0, plan, grads.data(), step + 1).Wait());
    } else {
      RETURN_IF_ERROR(ps->Pull(0, keys->data(), n, rows.data()).Wait());
      t1 = Clock::now();
      RETURN_IF_ERROR(ps->Push(0, keys->data(), n, grads.data(), step + 1).Wait());
    }
    const auto t2 = Clock::now();
    if (!measuring) continue;
    result.pull_rows += static_cast<double>(n);
    result.push_rows += static_cast<double>(n);
    result.pull_seconds += Seconds(t1 - t0);
    result.push_seconds += Seconds(t2 - t1);
    result.pull_ms.push_back(Seconds(t1 - t0) * 1e3);
    result.push_ms.push_back(Seconds(t2 - t1) * 1e3);
  }
  return result;
}

}  // namespace metaps
