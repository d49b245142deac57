// `metaps select --config JOB --out DIR`: a study over the job's search space
// (launch/select.h); with --plan, only the trials, each checked like a job,
// printed and written as job files.
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/env.h"
#include "common/job_config.h"
#include "common/json.h"
#include "common/search_space.h"
#include "launch/cluster_job.h"
#include "launch/select.h"
#include "launch/study_cluster.h"
#include "launch/subcommands.h"

namespace metaps {

int SelectCommand(int argc, char** argv) {
  std::string config_path, out, data_dir, launcher;
  std::vector<std::string> overrides;
  bool plan = false, resume = false;
  bool shared_cluster = false;
  int64_t group_workers = 1;
  ClusterOptions cluster;
  FlagSet flags("select");
  cluster.Register(&flags);
  flags.String("data", &data_dir, "the job's data directory (as for train)");
  flags.String("launcher", &launcher,
               "the words that start a trial's cluster job before the subcommand, e.g. "
               "\"launch/local.sh 1 2 --\" (with --workers 2); empty: this binary with every "
               "role as a thread");
  flags.Bool("shared-cluster", &shared_cluster,
             "run the whole study as one cluster job (this command under mpirun, or every role "
             "as a thread): every trial in its own table namespace on the same servers, the "
             "workers divided into groups of --group-workers that train trials side by side");
  flags.Int("group-workers", &group_workers,
            "with --shared-cluster: workers per trial (a divisor of the workers); a rung's "
            "steps are its examples / (batch_size * group-workers)",
            1, kMaxWorkerRange);
  flags.Bool("resume", &resume, "go on with the study in --out after a kill");
  std::string warm_start;
  flags.String("warm-start", &warm_start,
               "a previous study's --out: its best trials (the top 1/eta) enter this study's "
               "first rung ahead of the search's own");
  flags.String("config", &config_path, "a job config with a search { param { ... } } block");
  flags.StringList("set", &overrides,
                   "override a field of the base job: --set training.epochs=2 (repeatable)");
  flags.Bool("plan", &plan,
             "list the study's trials (one JSON line each) without running them; every trial "
             "passes the job's checks or nothing is listed");
  flags.String("out", &out,
               "the study's directory (study.json, trials/, runs/, best.pbtxt, best-model/); "
               "with --plan: write each trial there as trial-<k>.pbtxt");
  if (int code = ParseSubcommandFlags(flags, argc, argv); code >= 0) return code;
  if (config_path.empty()) {
    std::cerr << "metaps select: --config JOB is required (see --help)\n";
    return 2;
  }
  if (!plan) {
    if (out.empty()) {
      std::cerr << "metaps select: --out DIR (the study's directory) is required\n";
      return 2;
    }
    auto self = SelfBinaryPath();
    if (!self.ok()) {
      std::cerr << "metaps select: " << self.status().message() << "\n";
      return 1;
    }
    SelectOptions o;
    o.config = config_path;
    o.overrides = overrides;
    o.data_dir = data_dir;
    o.out = out;
    o.launcher = launcher;
    o.servers = static_cast<int>(cluster.servers);
    o.workers = static_cast<int>(shared_cluster ? group_workers : cluster.workers);
    o.resume = resume;
    o.warm_start = warm_start;
    o.self_binary = *self;
    if (shared_cluster) {
      if (!launcher.empty()) {
        std::cerr << "metaps select: --launcher runs each rung as its own job; --shared-cluster "
                     "runs the study as one job (start this command under mpirun instead)\n";
        return 2;
      }
      return RunSharedStudy(o, cluster, flags.WasSet("servers"), static_cast<int>(group_workers));
    }
    if (flags.WasSet("group-workers")) {
      std::cerr << "metaps select: --group-workers needs --shared-cluster\n";
      return 2;
    }
    return RunSelect(o);
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
    OrderedJson line = {{"event", "trial"}, {"trial", t.index}};
    OrderedJson values = OrderedJson::object();
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
    std::cout << JsonText(line) << "\n";
  }
  OrderedJson summary = {{"event", "plan"},
                         {"trials", trials->size()},
                         {"samples", job->search().samples()},
                         {"seed", job->search().seed()}};
  std::cout << JsonText(summary) << std::endl;
  return 0;
}

}  // namespace metaps
