#include "common/control.h"

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

}  // namespace metaps
