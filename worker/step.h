// The pieces a worker's training step is composed of, shared by every kind of
// training so that each is a composition, not a copy of one loop:
//
//   plain training (worker/trainer.h)   pull a batch's rows -> ForwardBackward
//                                        -> PushTables -> ReduceStep -> ApplyDenseStep
//   meta-training (worker/meta/)        pull the tasks' rows -> per task, an inner
//                                        loop on a private copy (Adapt) and an outer
//                                        signal (OuterSignal), summed by key
//                                        -> PushTables -> ReduceStep -> ApplyDenseStep
//   model selection's trials            plain training in a table namespace
//                                        (PsClient::set_table_base)
//
// The pulls (PsClient::Pull, with a KeyPlan made once per step) and the model's
// passes (Model, worker/meta/task_step.h) are pieces of their own.
#pragma once

#include <cstdint>
#include <vector>

#include "common/scheduler_client.h"
#include "common/status.h"
#include "kernels/optimizer_rules.h"
#include "worker/allreduce.h"
#include "worker/ps_client.h"

namespace metaps {

// One table's sparse signal: plan.size() rows of the table's dim.
struct TableSignal {
  uint32_t table_id = 0;
  const float* grads = nullptr;
};

// Pushes each table's signal for `plan`'s keys at `clock` and waits for the
// servers to apply it. `every_server`: under BSP aggregation every server
// waits for one push per worker per step, so servers that own none of the
// keys get an empty push; with no keys at all (`plan` null or empty) only
// those empty pushes go, and without `every_server` nothing does.
Status PushTables(PsClient* ps, const KeyPlan* plan, const std::vector<TableSignal>& tables,
                  int64_t clock, bool every_server);

// A step's all-reduce over the workers: `data` holds the caller's dense signal
// and counters, and slot `stop_slot` gets this worker's vote to stop (the
// scheduler's stop request, which reaches workers at different moments), so
// that every worker stops after the same step: *stop is whether any voted.
Status ReduceStep(AllReduce* allreduce, SchedulerClient* scheduler, std::vector<double>* data,
                  size_t stop_slot, bool* stop);

// The dense step, the same on every worker: the mean signal sum[i] / count
// (0 when count is 0) into *grad, then `optimizer`'s rule on `row` (n weights,
// then their optimizer state).
void ApplyDenseStep(const OptimizerParams& optimizer, const double* sum, double count, size_t n,
                    std::vector<float>* grad, float* row);

}  // namespace metaps
