// Typed control payloads (common/proto/control.proto): encoded once by the
// sender, decoded and checked field by field by the receiver. A payload that
// does not parse, has another version or an out-of-range field is a
// ProtocolError naming who sent it and the field; nothing here throws.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/early_stop.h"
#include "common/proto/control.pb.h"
#include "common/status.h"

namespace metaps {

constexpr uint32_t kControlVersion = 1;

std::string EncodeServerSync(control::ServerSync::Action action, int64_t step);
// `from` names the sender in errors, e.g. "ps/sync/3 from the workers".
StatusOr<control::ServerSync> DecodeServerSync(const std::string& payload, const std::string& from);

std::string EncodeRestored(int64_t step);
StatusOr<int64_t> DecodeRestored(const std::string& payload, const std::string& from);

// Set the version and serialize.
std::string EncodeProgress(control::Progress progress);
std::string EncodeDone(control::Done done);
StatusOr<control::Progress> DecodeProgress(const std::string& payload, const std::string& from);
StatusOr<control::Done> DecodeDone(const std::string& payload, const std::string& from);

// Early stopping (common/early_stop.h): the gathers "early/<step>" and "early/resume".
std::string EncodeEarlyStopReport(int64_t epoch);
StatusOr<int64_t> DecodeEarlyStopReport(const std::string& payload, const std::string& from);
std::string EncodeEarlyStopAnswer(EarlyStopper::Decision decision, const EarlyStopState& state);
StatusOr<std::pair<EarlyStopper::Decision, EarlyStopState>> DecodeEarlyStopAnswer(
    const std::string& payload, const std::string& from);
// `state` null: nothing saved.
std::string EncodeEarlyStopResume(const std::string& metric, const EarlyStopState* state);
struct EarlyStopResumed {
  std::string metric;
  bool has_state = false;
  EarlyStopState state;
};
StatusOr<EarlyStopResumed> DecodeEarlyStopResume(const std::string& payload,
                                                 const std::string& from);

// Checkpoints (ps/server.cc): gather "collect/checkpoint/<step>" carries each
// server's ShardSaved; every "collect/..." gather is answered with Collected.
struct ShardRecord {
  int server_index = 0;
  std::string name;
  uint64_t size = 0;
  uint32_t crc32c = 0;
};
std::string EncodeShardSaved(const ShardRecord& shard);
// Checks server_index against `servers` and that the name is a plain file name.
StatusOr<ShardRecord> DecodeShardSaved(const std::string& payload, int servers,
                                       const std::string& from);
std::string EncodeCollected(const std::vector<std::string>& payloads);
// Exactly `expected` payloads, or a ProtocolError.
StatusOr<std::vector<std::string>> DecodeCollected(const std::string& payload, size_t expected,
                                                   const std::string& from);

// Eval partials: which accumulator frame 0 holds.
std::string EncodeEvalPartial(bool binary);
StatusOr<bool> DecodeEvalPartialIsBinary(const std::string& payload, const std::string& from);

// bench-ps: a server's table counters and a worker's result.
std::string EncodeTableCounts(control::TableCounts counts);
StatusOr<control::TableCounts> DecodeTableCounts(const std::string& payload,
                                                 const std::string& from);
std::string EncodeBenchPsResult(control::BenchPsResult result);
StatusOr<control::BenchPsResult> DecodeBenchPsResult(const std::string& payload,
                                                     const std::string& from);

// ping: one worker's round. Amounts are checked here; that the server ranks
// are this job's servers, each once, is the ping job's check.
std::string EncodePingReport(control::PingReport report);
StatusOr<control::PingReport> DecodePingReport(const std::string& payload, const std::string& from);

// meta-train: the task index, the outer step's tasks, eval partials.
std::string EncodeMetaIndex(control::MetaIndex index);
StatusOr<control::MetaIndex> DecodeMetaIndex(const std::string& payload, const std::string& from);
std::string EncodeMetaBatch(control::MetaBatch batch);
// Checks there are `workers` lists and every task is below `train_tasks`.
StatusOr<control::MetaBatch> DecodeMetaBatch(const std::string& payload, int workers,
                                             uint64_t train_tasks, const std::string& from);
std::string EncodeMetaEvalPartial(control::MetaEvalPartial partial);
// Checks counts and that names are among `names` (sums may be NaN: a diverged
// model's metrics are reported as null).
StatusOr<control::MetaEvalPartial> DecodeMetaEvalPartial(const std::string& payload,
                                                         const std::vector<std::string>& names,
                                                         const std::string& from);

// Model selection on one shared cluster (launch/study_cluster.h). Decode
// checks the versions and ranges.
std::string EncodeTrialAssignment(control::TrialAssignment m);
StatusOr<control::TrialAssignment> DecodeTrialAssignment(const std::string& payload,
                                                         const std::string& from);
std::string EncodeTrialReport(control::TrialReport m);
StatusOr<control::TrialReport> DecodeTrialReport(const std::string& payload,
                                                 const std::string& from);
std::string EncodeStudyEnd(control::StudyEnd m);
StatusOr<control::StudyEnd> DecodeStudyEnd(const std::string& payload, const std::string& from);
std::string EncodeServerMemory(control::ServerMemory m);
StatusOr<control::ServerMemory> DecodeServerMemory(const std::string& payload,
                                                   const std::string& from);

}  // namespace metaps
