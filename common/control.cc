#include "common/control.h"

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

}  // namespace metaps
