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
    return ProtocolError(from + ": ServerSync.step " + std::to_string(m.step()) +
                         " is negative");
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
      {m.samples(), "samples"}, {m.seconds(), "seconds"},       {m.read_s(), "read_s"},
      {m.pull_s(), "pull_s"},   {m.compute_s(), "compute_s"},   {m.push_s(), "push_s"},
      {m.allreduce_s(), "allreduce_s"}, {m.run_samples(), "run_samples"}};
  for (const auto& [v, field] : amounts) {
    RETURN_IF_ERROR(CheckAmount(v, from, std::string("Done.") + field));
  }
  return m;
}

}  // namespace metaps
