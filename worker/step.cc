#include "worker/step.h"

namespace metaps {

Status PushTables(PsClient* ps, const KeyPlan* plan, const std::vector<TableSignal>& tables,
                  int64_t clock, bool every_server) {
  std::vector<PsFuture> pushes;
  const bool keys = plan != nullptr && plan->size() > 0;
  for (const TableSignal& t : tables) {
    if (keys) {
      pushes.push_back(ps->Push(t.table_id, *plan, t.grads, clock, every_server));
    } else if (every_server) {
      pushes.push_back(ps->Push(t.table_id, nullptr, 0, nullptr, clock, /*every_server=*/true));
    }
  }
  return WaitAll(&pushes);
}

Status ReduceStep(AllReduce* allreduce, SchedulerClient* scheduler, std::vector<double>* data,
                  size_t stop_slot, bool* stop) {
  (*data)[stop_slot] = scheduler->stop_requested() ? 1.0 : 0.0;
  RETURN_IF_ERROR(allreduce->Sum(data->data(), data->size()));
  *stop = (*data)[stop_slot] > 0;
  return Status::Ok();
}

void ApplyDenseStep(const OptimizerParams& optimizer, const double* sum, double count, size_t n,
                    std::vector<float>* grad, float* row) {
  grad->resize(n);
  for (size_t i = 0; i < n; ++i) {
    (*grad)[i] = count > 0 ? static_cast<float>(sum[i] / count) : 0.0f;
  }
  ApplyOptimizer(optimizer, row, grad->data(), static_cast<int>(n));
}

}  // namespace metaps
