// Fuzzes the typed control decoders (common/control.h), model selection's
// study messages included, with arbitrary payloads: every decoder must return
// a value or a ProtocolError, and a payload it accepts must encode back to
// one it accepts with the same fields.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/control.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string payload(reinterpret_cast<const char*>(data), size);
  auto sync = metaps::DecodeServerSync(payload, "fuzz");
  if (sync.ok()) {
    auto again =
        metaps::DecodeServerSync(metaps::EncodeServerSync(sync->action(), sync->step()), "again");
    if (!again.ok() || again->action() != sync->action() || again->step() != sync->step()) {
      std::abort();
    }
  } else if (sync.status().code() != metaps::StatusCode::kProtocolError) {
    std::abort();
  }
  auto restored = metaps::DecodeRestored(payload, "fuzz");
  if (restored.ok() &&
      metaps::DecodeRestored(metaps::EncodeRestored(*restored), "again").value() != *restored) {
    std::abort();
  }
  auto progress = metaps::DecodeProgress(payload, "fuzz");
  if (progress.ok() && !metaps::DecodeProgress(metaps::EncodeProgress(*progress), "again").ok()) {
    std::abort();
  }
  auto done = metaps::DecodeDone(payload, "fuzz");
  if (done.ok() && !metaps::DecodeDone(metaps::EncodeDone(*done), "again").ok()) std::abort();
  auto answer = metaps::DecodeEarlyStopAnswer(payload, "fuzz");
  if (answer.ok() && !metaps::DecodeEarlyStopAnswer(
                          metaps::EncodeEarlyStopAnswer(answer->first, answer->second), "again")
                          .ok()) {
    std::abort();
  }
  (void)metaps::DecodeEarlyStopReport(payload, "fuzz");
  auto resumed = metaps::DecodeEarlyStopResume(payload, "fuzz");
  if (resumed.ok() && !metaps::DecodeEarlyStopResume(
                           metaps::EncodeEarlyStopResume(
                               resumed->metric, resumed->has_state ? &resumed->state : nullptr),
                           "again")
                           .ok()) {
    std::abort();
  }
  auto shard = metaps::DecodeShardSaved(payload, 4, "fuzz");
  if (shard.ok()) {
    auto again = metaps::DecodeShardSaved(metaps::EncodeShardSaved(*shard), 4, "again");
    if (!again.ok() || again->name != shard->name || again->size != shard->size) std::abort();
    if (shard->name.find('/') != std::string::npos || shard->name == "..") std::abort();
  }
  auto collected = metaps::DecodeCollected(payload, 2, "fuzz");
  if (collected.ok() &&
      metaps::DecodeCollected(metaps::EncodeCollected(*collected), 2, "again").value() !=
          *collected) {
    std::abort();
  }
  auto binary = metaps::DecodeEvalPartialIsBinary(payload, "fuzz");
  if (binary.ok() &&
      metaps::DecodeEvalPartialIsBinary(metaps::EncodeEvalPartial(*binary), "again").value() !=
          *binary) {
    std::abort();
  }
  auto counts = metaps::DecodeTableCounts(payload, "fuzz");
  if (counts.ok() && !metaps::DecodeTableCounts(metaps::EncodeTableCounts(*counts), "again").ok()) {
    std::abort();
  }
  auto bench = metaps::DecodeBenchPsResult(payload, "fuzz");
  if (bench.ok() &&
      !metaps::DecodeBenchPsResult(metaps::EncodeBenchPsResult(*bench), "again").ok()) {
    std::abort();
  }
  auto ping = metaps::DecodePingReport(payload, "fuzz");
  if (ping.ok() && !metaps::DecodePingReport(metaps::EncodePingReport(*ping), "again").ok()) {
    std::abort();
  }
  // Model selection on a shared cluster (launch/study_cluster.h).
  auto assignment = metaps::DecodeTrialAssignment(payload, "fuzz");
  if (assignment.ok()) {
    auto again = metaps::DecodeTrialAssignment(metaps::EncodeTrialAssignment(*assignment), "again");
    if (!again.ok() || again->kind() != assignment->kind()) std::abort();
    if (assignment->kind() == metaps::control::TrialAssignment::RUN &&
        (assignment->trial() < 0 || assignment->max_steps() < 1 || assignment->table_base() == 0)) {
      std::abort();
    }
  } else if (assignment.status().code() != metaps::StatusCode::kProtocolError) {
    std::abort();
  }
  auto report = metaps::DecodeTrialReport(payload, "fuzz");
  if (report.ok() &&
      (report->trial() < 0 || report->rung() < 0 || report->step() < 0 ||
       !metaps::DecodeTrialReport(metaps::EncodeTrialReport(*report), "again").ok())) {
    std::abort();
  }
  auto end = metaps::DecodeStudyEnd(payload, "fuzz");
  if (end.ok() && !metaps::DecodeStudyEnd(metaps::EncodeStudyEnd(*end), "again").ok()) {
    std::abort();
  }
  auto memory = metaps::DecodeServerMemory(payload, "fuzz");
  if (memory.ok() &&
      !metaps::DecodeServerMemory(metaps::EncodeServerMemory(*memory), "again").ok()) {
    std::abort();
  }
  return 0;
}
