// `metaps select --config JOB --plan [--out DIR]`: the trials of a job's
// search space, each checked like a job, printed and written as job files.
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/env.h"
#include "common/job_config.h"
#include "common/search_space.h"
#include "launch/subcommands.h"

namespace metaps {

int SelectCommand(int argc, char** argv) {
  std::string config_path, out;
  std::vector<std::string> overrides;
  bool plan = false;
  FlagSet flags("select");
  flags.String("config", &config_path, "a job config with a search { param { ... } } block");
  flags.StringList("set", &overrides,
                   "override a field of the base job: --set training.epochs=2 (repeatable)");
  flags.Bool("plan", &plan,
             "list the study's trials (one JSON line each) without running them; every trial "
             "passes the job's checks or nothing is listed");
  flags.String("out", &out,
               "with --plan: write each trial as DIR/trial-<k>.pbtxt, a job file "
               "`metaps train` runs");
  if (int code = ParseSubcommandFlags(flags, argc, argv); code >= 0) return code;
  if (config_path.empty()) {
    std::cerr << "metaps select: --config JOB is required (see --help)\n";
    return 2;
  }
  if (!plan) {
    std::cerr << "metaps select: running the trials on one cluster is not built yet; --plan "
                 "lists them and --out writes each as a job file for `metaps train`\n";
    return 2;
  }
  auto job = LoadJobConfig(config_path, overrides);
  auto trials =
      job.ok() ? LoadTrials(config_path, overrides) : StatusOr<std::vector<Trial>>(job.status());
  if (!trials.ok()) {
    std::cerr << "metaps select: " << trials.status().message() << "\n";
    return 2;
  }
  Env* env = Env::Default();
  if (!out.empty()) {
    if (Status s = env->CreateDir(out); !s.ok()) {
      std::cerr << "metaps select: " << s.message() << "\n";
      return 1;
    }
  }
  for (const Trial& t : *trials) {
    nlohmann::ordered_json line = {{"event", "trial"}, {"trial", t.index}};
    nlohmann::ordered_json values = nlohmann::ordered_json::object();
    for (const auto& [field, value] : t.values) values[field] = value;
    line["set"] = values;
    if (!out.empty()) {
      const std::string path = JoinPath(out, "trial-" + std::to_string(t.index) + ".pbtxt");
      const std::string text = "# Trial " + std::to_string(t.index) + " of " + config_path + ": " +
                               t.Describe() + "\n" + JobConfigToText(t.job);
      if (Status s = WriteFileAtomically(env, path, text); !s.ok()) {
        std::cerr << "metaps select: " << s.message() << "\n";
        return 1;
      }
      line["config"] = path;
    }
    std::cout << line.dump() << "\n";
  }
  nlohmann::ordered_json summary = {{"event", "plan"},
                                    {"trials", trials->size()},
                                    {"samples", job->search().samples()},
                                    {"seed", job->search().seed()}};
  std::cout << summary.dump() << std::endl;
  return 0;
}

}  // namespace metaps
