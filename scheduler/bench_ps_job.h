// `metaps bench-ps` on the scheduler: merges the workers' figures into the
// final JSON line. Each worker joins gather "bench-ps/result" with frames of
// doubles: [pull_rows, push_rows, pull_seconds, push_seconds], pull latencies
// (ms), push latencies (ms). Then the servers join "bench-ps/tables" with
// their table counts as text ("rows admitted pending evicted"), and the line
// is printed with the counts summed over servers.
#pragma once

#include <string>

#include "common/json.h"
#include "scheduler/scheduler.h"

namespace metaps {

struct BenchPsReport {
  int dim = 0;
  size_t keys_per_request = 0;
  std::string optimizer, dist;
  bool curve = true;
  bool shared_plan = true;  // a step's Pull and Push share one KeyPlan
  // How PULL and PUSH travel: "plaintext" (--insecure), "curve", or "aead".
  std::string data_plane = "curve";
};

class BenchPsJob : public JobDriver {
 public:
  BenchPsJob(const ClusterView& view, BenchPsReport report) : view_(view), report_(report) {}
  Status OnGather(const std::string& name, std::vector<GatherEntry>& entries,
                  wire::Control* reply) override;
  bool reported() const { return reported_; }

 private:
  const ClusterView& view_;
  BenchPsReport report_;
  bool reported_ = false;
  OrderedJson line_;  // the figures, waiting for the table counts
};

}  // namespace metaps
