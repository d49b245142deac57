// Loading a job config (common/proto/job.proto, protobuf text format).
//
// Errors always say where: "job.pbtxt:12:3: model.family: unknown family 'dfm'
// (mf, ncf, deepfm, multi_scenario)". Parse errors (syntax, unknown fields)
// come from protobuf's parser; value errors are found after defaults are
// filled, and point at the field's position in the file (or at the --set
// override that gave it).
#pragma once

#include <string>
#include <vector>

#include "common/proto/job.pb.h"
#include "common/status.h"

namespace metaps {

// Parses `text` (named `source` in errors), applies `overrides` of the form
// "path.to.field=value" (repeated fields take comma-separated values), fills
// defaults and validates. Without `keep_search` the search block is dropped
// before the overrides (how model selection makes one trial's job).
StatusOr<config::JobConfig> ParseJobConfig(const std::string& text, const std::string& source,
                                           const std::vector<std::string>& overrides = {},
                                           bool keep_search = true);
// Reads the file at `path`, then as ParseJobConfig.
StatusOr<config::JobConfig> LoadJobConfig(const std::string& path,
                                          const std::vector<std::string>& overrides = {});

// The config as text format, e.g. to record it beside a job's output.
std::string JobConfigToText(const config::JobConfig& job);

}  // namespace metaps
