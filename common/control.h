// Typed control payloads (common/proto/control.proto): encoded once by the
// sender, decoded and checked field by field by the receiver. A payload that
// does not parse, has another version or an out-of-range field is a
// ProtocolError naming who sent it and the field; nothing here throws.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

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

}  // namespace metaps
