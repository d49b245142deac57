// `metaps bench-ps` on a worker: pull then push one request of keys at a time
// (one request in flight) against table 0, after a warm-up, and measure.
#pragma once

#include <vector>

#include "worker/bench_workload.h"
#include "worker/ps_client.h"

namespace metaps {

struct BenchPsOptions {
  BenchWorkload workload;
  int dim = 64;
  double seconds = 10;  // measured phase, when steps == 0
  double warmup_seconds = 2;
  int64_t steps = 0;  // > 0: exactly this many steps, no warm-up, exact gradients
  // A step dedups and slices its keys once (PsClient::Plan, timed with the
  // pull) for its Pull and Push, as a training step dedups its batch's keys
  // once (EmbeddingBatch) for both; false: each call does its own.
  bool shared_plan = true;
};

struct BenchPsResult {
  double pull_rows = 0, push_rows = 0;        // rows requested (before dedup)
  double pull_seconds = 0, push_seconds = 0;  // time inside Plan+Pull / Push calls
  std::vector<double> pull_ms, push_ms;       // per-request latencies
};

StatusOr<BenchPsResult> RunBenchPs(PsClient* ps, int worker_index, const BenchPsOptions& options);

}  // namespace metaps
