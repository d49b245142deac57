#include "common/control.h"

#include <algorithm>
#include <cmath>

namespace metaps {
namespace {

template <typename T>
StatusOr<T> Parse(const std::string& payload, const std::string& from) {
  T message;
  if (payload.empty() || !message.ParseFromString(payload)) {
    return ProtocolError(from + ": not a " + T::descriptor()->name() + " payload (" +
                         std::to_string(payload.size()) + " bytes)");
  }
  if (message.version() != kControlVersion) {
    return ProtocolError(from + ": " + T::descriptor()->name() + ".version " +
                         std::to_string(message.version()) + ", this build speaks " +
                         std::to_string(kControlVersion));
  }
  return message;
}

// A count or duration a peer reports: finite and not negative.
Status CheckAmount(double v, const std::string& from, const std::string& field) {
  if (std::isfinite(v) && v >= 0) return Status::Ok();
  return ProtocolError(from + ": " + field + " " + std::to_string(v) +
                       " is not a finite non-negative number");
}

void ToProto(const EarlyStopState& s, control::EarlyStopState* p) {
  p->set_best_step(s.best_step);
  p->set_best_epoch(s.best_epoch);
  p->set_best_value(s.best_value);
  p->set_last_step(s.last_step);
  p->set_bad_evals(s.bad_evals);
  p->set_stopped(s.stopped);
}

StatusOr<EarlyStopState> FromProto(const control::EarlyStopState& p, const std::string& from) {
  if (p.best_step() < -1 || p.last_step() < -1 || p.best_epoch() < 0 || p.bad_evals() < 0) {
    return ProtocolError(from + ": EarlyStopState has a step below -1 or a negative count");
  }
  EarlyStopState s;
  s.best_step = p.best_step();
  s.best_epoch = p.best_epoch();
  s.best_value = p.best_value();
  s.last_step = p.last_step();
  s.bad_evals = p.bad_evals();
  s.stopped = p.stopped();
  return s;
}

}  // namespace

std::string EncodeServerSync(control::ServerSync::Action action, int64_t step) {
  control::ServerSync m;
  m.set_version(kControlVersion);
  m.set_action(action);
  m.set_step(step);
  return m.SerializeAsString();
}

StatusOr<control::ServerSync> DecodeServerSync(const std::string& payload,
                                               const std::string& from) {
  ASSIGN_OR_RETURN(control::ServerSync m, Parse<control::ServerSync>(payload, from));
  if (m.action() == control::ServerSync::ACTION_UNSPECIFIED ||
      !control::ServerSync::Action_IsValid(m.action())) {
    return ProtocolError(from + ": ServerSync.action " + std::to_string(m.action()) +
                         " is not an action");
  }
  if (m.step() < 0) {
    return ProtocolError(from + ": ServerSync.step " + std::to_string(m.step()) + " is negative");
  }
  return m;
}

std::string EncodeRestored(int64_t step) {
  control::Restored m;
  m.set_version(kControlVersion);
  m.set_step(step);
  return m.SerializeAsString();
}

StatusOr<int64_t> DecodeRestored(const std::string& payload, const std::string& from) {
  ASSIGN_OR_RETURN(control::Restored m, Parse<control::Restored>(payload, from));
  if (m.step() < 0) {
    return ProtocolError(from + ": Restored.step " + std::to_string(m.step()) + " is negative");
  }
  return m.step();
}

std::string EncodeProgress(control::Progress progress) {
  progress.set_version(kControlVersion);
  return progress.SerializeAsString();
}

std::string EncodeDone(control::Done done) {
  done.set_version(kControlVersion);
  return done.SerializeAsString();
}

StatusOr<control::Progress> DecodeProgress(const std::string& payload, const std::string& from) {
  ASSIGN_OR_RETURN(control::Progress m, Parse<control::Progress>(payload, from));
  if (m.epoch() < 1) {
    return ProtocolError(from + ": Progress.epoch " + std::to_string(m.epoch()) + " is below 1");
  }
  if (m.step() < 0) {
    return ProtocolError(from + ": Progress.step " + std::to_string(m.step()) + " is negative");
  }
  RETURN_IF_ERROR(CheckAmount(m.samples(), from, "Progress.samples"));
  RETURN_IF_ERROR(CheckAmount(m.samples_per_s(), from, "Progress.samples_per_s"));
  RETURN_IF_ERROR(CheckAmount(m.elapsed_s(), from, "Progress.elapsed_s"));
  return m;
}

StatusOr<control::Done> DecodeDone(const std::string& payload, const std::string& from) {
  ASSIGN_OR_RETURN(control::Done m, Parse<control::Done>(payload, from));
  if (m.steps() < 0) {
    return ProtocolError(from + ": Done.steps " + std::to_string(m.steps()) + " is negative");
  }
  const std::pair<double, const char*> amounts[] = {
      {m.samples(), "samples"},         {m.seconds(), "seconds"},        {m.read_s(), "read_s"},
      {m.pull_s(), "pull_s"},           {m.compute_s(), "compute_s"},    {m.push_s(), "push_s"},
      {m.allreduce_s(), "allreduce_s"}, {m.run_samples(), "run_samples"}};
  for (const auto& [v, field] : amounts) {
    RETURN_IF_ERROR(CheckAmount(v, from, std::string("Done.") + field));
  }
  return m;
}

std::string EncodeEarlyStopReport(int64_t epoch) {
  control::EarlyStopReport m;
  m.set_version(kControlVersion);
  m.set_epoch(epoch);
  return m.SerializeAsString();
}

StatusOr<int64_t> DecodeEarlyStopReport(const std::string& payload, const std::string& from) {
  ASSIGN_OR_RETURN(control::EarlyStopReport m, Parse<control::EarlyStopReport>(payload, from));
  if (m.epoch() < 0) {
    return ProtocolError(from + ": EarlyStopReport.epoch " + std::to_string(m.epoch()) +
                         " is negative");
  }
  return m.epoch();
}

std::string EncodeEarlyStopAnswer(EarlyStopper::Decision decision, const EarlyStopState& state) {
  control::EarlyStopAnswer m;
  m.set_version(kControlVersion);
  m.set_decision(decision == EarlyStopper::Decision::kImproved ? control::EarlyStopAnswer::IMPROVED
                 : decision == EarlyStopper::Decision::kStop   ? control::EarlyStopAnswer::STOP
                                                             : control::EarlyStopAnswer::CONTINUE);
  ToProto(state, m.mutable_state());
  return m.SerializeAsString();
}

StatusOr<std::pair<EarlyStopper::Decision, EarlyStopState>> DecodeEarlyStopAnswer(
    const std::string& payload, const std::string& from) {
  ASSIGN_OR_RETURN(control::EarlyStopAnswer m, Parse<control::EarlyStopAnswer>(payload, from));
  EarlyStopper::Decision d;
  switch (m.decision()) {
    case control::EarlyStopAnswer::IMPROVED:
      d = EarlyStopper::Decision::kImproved;
      break;
    case control::EarlyStopAnswer::CONTINUE:
      d = EarlyStopper::Decision::kContinue;
      break;
    case control::EarlyStopAnswer::STOP:
      d = EarlyStopper::Decision::kStop;
      break;
    default:
      return ProtocolError(from + ": EarlyStopAnswer.decision " + std::to_string(m.decision()) +
                           " is not a decision");
  }
  ASSIGN_OR_RETURN(EarlyStopState state, FromProto(m.state(), from));
  return std::make_pair(d, state);
}

std::string EncodeEarlyStopResume(const std::string& metric, const EarlyStopState* state) {
  control::EarlyStopResume m;
  m.set_version(kControlVersion);
  m.set_metric(metric);
  if (state != nullptr) ToProto(*state, m.mutable_state());
  return m.SerializeAsString();
}

StatusOr<EarlyStopResumed> DecodeEarlyStopResume(const std::string& payload,
                                                 const std::string& from) {
  ASSIGN_OR_RETURN(control::EarlyStopResume m, Parse<control::EarlyStopResume>(payload, from));
  EarlyStopResumed r;
  r.metric = m.metric();
  r.has_state = m.has_state();
  if (r.has_state) {
    ASSIGN_OR_RETURN(r.state, FromProto(m.state(), from));
  }
  return r;
}

std::string EncodeShardSaved(const ShardRecord& shard) {
  control::ShardSaved m;
  m.set_version(kControlVersion);
  m.set_server_index(shard.server_index);
  m.set_name(shard.name);
  m.set_size(shard.size);
  m.set_crc32c(shard.crc32c);
  return m.SerializeAsString();
}

StatusOr<ShardRecord> DecodeShardSaved(const std::string& payload, int servers,
                                       const std::string& from) {
  ASSIGN_OR_RETURN(control::ShardSaved m, Parse<control::ShardSaved>(payload, from));
  if (m.server_index() < 0 || m.server_index() >= servers) {
    return ProtocolError(from + ": ShardSaved.server_index " + std::to_string(m.server_index()) +
                         " is not in [0, " + std::to_string(servers) + ")");
  }
  const std::string& name = m.name();
  if (name.empty() || name.size() > 255 || name == "." || name == ".." ||
      name.find_first_of(std::string("/\\\0", 3)) != std::string::npos) {
    return ProtocolError(from + ": ShardSaved.name is not a plain file name");
  }
  ShardRecord r;
  r.server_index = m.server_index();
  r.name = name;
  r.size = m.size();
  r.crc32c = m.crc32c();
  return r;
}

std::string EncodeCollected(const std::vector<std::string>& payloads) {
  control::Collected m;
  m.set_version(kControlVersion);
  for (const auto& p : payloads) m.add_payloads(p);
  return m.SerializeAsString();
}

StatusOr<std::vector<std::string>> DecodeCollected(const std::string& payload, size_t expected,
                                                   const std::string& from) {
  ASSIGN_OR_RETURN(control::Collected m, Parse<control::Collected>(payload, from));
  if (static_cast<size_t>(m.payloads_size()) != expected) {
    return ProtocolError(from + ": Collected has " + std::to_string(m.payloads_size()) +
                         " payloads, expected " + std::to_string(expected));
  }
  return std::vector<std::string>(m.payloads().begin(), m.payloads().end());
}

std::string EncodeEvalPartial(bool binary) {
  control::EvalPartial m;
  m.set_version(kControlVersion);
  m.set_kind(binary ? control::EvalPartial::BINARY : control::EvalPartial::REGRESSION);
  return m.SerializeAsString();
}

StatusOr<bool> DecodeEvalPartialIsBinary(const std::string& payload, const std::string& from) {
  ASSIGN_OR_RETURN(control::EvalPartial m, Parse<control::EvalPartial>(payload, from));
  if (m.kind() == control::EvalPartial::BINARY) return true;
  if (m.kind() == control::EvalPartial::REGRESSION) return false;
  return ProtocolError(from + ": EvalPartial.kind " + std::to_string(m.kind()) + " is not a kind");
}

std::string EncodeTableCounts(control::TableCounts counts) {
  counts.set_version(kControlVersion);
  return counts.SerializeAsString();
}

StatusOr<control::TableCounts> DecodeTableCounts(const std::string& payload,
                                                 const std::string& from) {
  ASSIGN_OR_RETURN(control::TableCounts m, Parse<control::TableCounts>(payload, from));
  constexpr int64_t kMaxCount = int64_t{1} << 53;  // sums of a few stay exact and finite
  for (int64_t v : {m.rows(), m.admitted(), m.pending_admission(), m.evicted()}) {
    if (v < 0 || v > kMaxCount) {
      return ProtocolError(from + ": TableCounts has a negative count or one above 2^53");
    }
  }
  return m;
}

std::string EncodeBenchPsResult(control::BenchPsResult result) {
  result.set_version(kControlVersion);
  return result.SerializeAsString();
}

StatusOr<control::BenchPsResult> DecodeBenchPsResult(const std::string& payload,
                                                     const std::string& from) {
  ASSIGN_OR_RETURN(control::BenchPsResult m, Parse<control::BenchPsResult>(payload, from));
  RETURN_IF_ERROR(CheckAmount(m.pull_rows(), from, "BenchPsResult.pull_rows"));
  RETURN_IF_ERROR(CheckAmount(m.push_rows(), from, "BenchPsResult.push_rows"));
  RETURN_IF_ERROR(CheckAmount(m.pull_s(), from, "BenchPsResult.pull_s"));
  RETURN_IF_ERROR(CheckAmount(m.push_s(), from, "BenchPsResult.push_s"));
  for (double v : m.pull_ms()) RETURN_IF_ERROR(CheckAmount(v, from, "BenchPsResult.pull_ms"));
  for (double v : m.push_ms()) RETURN_IF_ERROR(CheckAmount(v, from, "BenchPsResult.push_ms"));
  return m;
}

std::string EncodePingReport(control::PingReport report) {
  report.set_version(kControlVersion);
  return report.SerializeAsString();
}

StatusOr<control::PingReport> DecodePingReport(const std::string& payload,
                                               const std::string& from) {
  ASSIGN_OR_RETURN(control::PingReport m, Parse<control::PingReport>(payload, from));
  RETURN_IF_ERROR(CheckAmount(m.bandwidth_s(), from, "PingReport.bandwidth_s"));
  for (double v : m.rtt_us()) RETURN_IF_ERROR(CheckAmount(v, from, "PingReport.rtt_us"));
  for (const auto& p : m.pairs()) {
    RETURN_IF_ERROR(CheckAmount(p.bytes(), from, "PingReport.pairs.bytes"));
    RETURN_IF_ERROR(CheckAmount(p.seconds(), from, "PingReport.pairs.seconds"));
  }
  return m;
}

std::string EncodeMetaIndex(control::MetaIndex index) {
  index.set_version(kControlVersion);
  return index.SerializeAsString();
}

StatusOr<control::MetaIndex> DecodeMetaIndex(const std::string& payload, const std::string& from) {
  ASSIGN_OR_RETURN(control::MetaIndex m, Parse<control::MetaIndex>(payload, from));
  if (m.valid_tasks() < 0 || m.test_tasks() < 0 || m.dropped_small() < 0 || m.dropped_large() < 0) {
    return ProtocolError(from + ": MetaIndex has a negative count");
  }
  if (m.train_sizes().empty()) return ProtocolError(from + ": MetaIndex has no meta-train task");
  return m;
}

std::string EncodeMetaBatch(control::MetaBatch batch) {
  batch.set_version(kControlVersion);
  return batch.SerializeAsString();
}

StatusOr<control::MetaBatch> DecodeMetaBatch(const std::string& payload, int workers,
                                             uint64_t train_tasks, const std::string& from) {
  ASSIGN_OR_RETURN(control::MetaBatch m, Parse<control::MetaBatch>(payload, from));
  if (m.workers_size() != workers) {
    return ProtocolError(from + ": MetaBatch lists " + std::to_string(m.workers_size()) +
                         " workers, the job has " + std::to_string(workers));
  }
  if (m.step() < 0) return ProtocolError(from + ": MetaBatch.step is negative");
  for (const auto& w : m.workers()) {
    for (uint32_t t : w.tasks()) {
      if (t >= train_tasks) {
        return ProtocolError(from + ": MetaBatch task " + std::to_string(t) + " is not below " +
                             std::to_string(train_tasks) + " meta-train tasks");
      }
    }
  }
  return m;
}

std::string EncodeMetaEvalPartial(control::MetaEvalPartial partial) {
  partial.set_version(kControlVersion);
  return partial.SerializeAsString();
}

StatusOr<control::MetaEvalPartial> DecodeMetaEvalPartial(const std::string& payload,
                                                         const std::vector<std::string>& names,
                                                         const std::string& from) {
  ASSIGN_OR_RETURN(control::MetaEvalPartial m, Parse<control::MetaEvalPartial>(payload, from));
  if (m.tasks() < 0 || m.tasks() > (int64_t{1} << 40)) {
    return ProtocolError(from + ": MetaEvalPartial.tasks is negative or absurd");
  }
  if (m.both_new_tasks() < 0 || m.both_new_tasks() > m.tasks()) {
    return ProtocolError(from + ": MetaEvalPartial.both_new_tasks is outside [0, tasks]");
  }
  for (const auto* list :
       {&m.before(), &m.adapted(), &m.both_new_before(), &m.both_new_adapted()}) {
    const bool both_new = list == &m.both_new_before() || list == &m.both_new_adapted();
    const int64_t most = both_new ? m.both_new_tasks() : m.tasks();
    std::vector<std::string> seen;
    for (const auto& s : *list) {
      if (std::find(seen.begin(), seen.end(), s.name()) != seen.end()) {
        return ProtocolError(from + ": MetaEvalPartial lists metric " + s.name().substr(0, 64) +
                             " twice");
      }
      seen.push_back(s.name());
      if (std::find(names.begin(), names.end(), s.name()) == names.end()) {
        return ProtocolError(from + ": MetaEvalPartial metric '" + s.name().substr(0, 64) +
                             "' is not one this job reports");
      }
      // A sum may be NaN or infinite: a diverged model is reported (as null), not refused.
      if (s.count() < 0 || s.count() > most) {
        return ProtocolError(from + ": MetaEvalPartial metric " + s.name() +
                             " has a count outside [0, " + (both_new ? "both_new_tasks" : "tasks") +
                             "]");
      }
    }
  }
  return m;
}

std::string EncodeTrialAssignment(control::TrialAssignment m) {
  m.set_version(kControlVersion);
  return m.SerializeAsString();
}

StatusOr<control::TrialAssignment> DecodeTrialAssignment(const std::string& payload,
                                                         const std::string& from) {
  ASSIGN_OR_RETURN(auto m, Parse<control::TrialAssignment>(payload, from));
  if (!control::TrialAssignment::Kind_IsValid(m.kind())) {
    return ProtocolError(from + ": TrialAssignment.kind " + std::to_string(m.kind()));
  }
  if (m.kind() == control::TrialAssignment::RUN &&
      (m.trial() < 0 || m.rung() < 0 || m.max_steps() < 1 || m.job().empty() ||
       m.table_base() == 0)) {
    return ProtocolError(from +
                         ": TrialAssignment RUN without a trial, rung, max_steps, job or table "
                         "namespace");
  }
  return m;
}

std::string EncodeTrialReport(control::TrialReport m) {
  m.set_version(kControlVersion);
  return m.SerializeAsString();
}

StatusOr<control::TrialReport> DecodeTrialReport(const std::string& payload,
                                                 const std::string& from) {
  ASSIGN_OR_RETURN(auto m, Parse<control::TrialReport>(payload, from));
  if (m.trial() < 0 || m.rung() < 0 || m.step() < 0) {
    return ProtocolError(from + ": TrialReport.trial " + std::to_string(m.trial()) + " rung " +
                         std::to_string(m.rung()) + " step " + std::to_string(m.step()));
  }
  return m;
}

std::string EncodeStudyEnd(control::StudyEnd m) {
  m.set_version(kControlVersion);
  return m.SerializeAsString();
}

StatusOr<control::StudyEnd> DecodeStudyEnd(const std::string& payload, const std::string& from) {
  return Parse<control::StudyEnd>(payload, from);
}

std::string EncodeServerMemory(control::ServerMemory m) {
  m.set_version(kControlVersion);
  return m.SerializeAsString();
}

StatusOr<control::ServerMemory> DecodeServerMemory(const std::string& payload,
                                                   const std::string& from) {
  return Parse<control::ServerMemory>(payload, from);
}

}  // namespace metaps
