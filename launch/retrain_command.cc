// `metaps retrain --pipeline PIPELINE.pbtxt`: one run of a retraining pipeline
// (launch/retrain.h), for cron or a systemd timer.
#include <iostream>

#include "launch/retrain.h"
#include "launch/subcommands.h"

namespace metaps {

int RetrainCommand(int argc, char** argv) {
  std::string pipeline_path;
  std::vector<std::string> overrides;
  FlagSet flags("retrain");
  flags.String("pipeline", &pipeline_path,
               "the pipeline file (protobuf text), e.g. "
               "launch/pipelines/ctr_daily.pbtxt");
  flags.StringList("set", &overrides,
                   "override a pipeline field: --set state_dir=/var/lib/metaps/ctr "
                   "(repeatable; relative paths are relative to the current directory)");
  if (int code = ParseSubcommandFlags(flags, argc, argv); code >= 0) return code;
  if (pipeline_path.empty()) {
    std::cerr << "metaps retrain: --pipeline FILE is required (see --help)\n";
    return kRetrainUsage;
  }
  auto pipeline = LoadPipeline(pipeline_path, overrides);
  if (!pipeline.ok()) {
    std::cerr << "metaps retrain: " << pipeline.status().message() << "\n";
    return kRetrainUsage;
  }
  auto self = SelfBinaryPath();
  if (!self.ok()) {
    std::cerr << "metaps retrain: " << self.status().message() << "\n";
    return kRetrainFailed;
  }
  return RunRetrain(*pipeline, *self);
}

}  // namespace metaps
