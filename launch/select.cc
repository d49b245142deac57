#include "launch/select.h"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/env.h"
#include "launch/cluster_job.h"
#include "launch/study.h"

namespace metaps {
namespace {

using Clock = std::chrono::steady_clock;

// One rung of a trial as a train job through the launcher, from the trial's
// own checkpoint.
Status RunRung(Study* study, const ClusterJobLauncher& launcher, const SuccessiveHalving::Work& w,
               bool restarted) {
  const SelectOptions& o = study->options();
  const Trial& trial = study->trial(w.trial);
  const int batch = trial.job.data().batch_size();
  const int64_t steps = StepsForSamples(w.to, batch, o.workers);
  std::vector<std::string> args = {
      "--config", study->TrialFile(w.trial), "--set", "output_dir=" + study->TrialDir(w.trial),
      "--set", "training.max_steps=" + std::to_string(steps),
      // The budget, not the epochs, ends a rung.
      "--set", "training.epochs=1000000", "--set", "training.log_every=0"};
  if (!o.data_dir.empty()) args.insert(args.end(), {"--data", o.data_dir});
  // A promoted trial goes on from its own checkpoint; a rung a kill
  // interrupted goes on from whatever checkpoint it reached.
  if (w.from > 0) args.push_back("--resume");
  if (w.from == 0 && restarted) args.push_back("--resume-if-checkpoint");
  const auto start = Clock::now();
  auto done = RunClusterJob(launcher, "train", args, study->TrialDir(w.trial),
                            "rung-" + std::to_string(w.rung));
  return study->Record(w, steps, done, std::chrono::duration<double>(Clock::now() - start).count());
}

int Fail(const Status& s) {
  std::cerr << "metaps select: " << s.message() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

}  // namespace

int64_t StepsForSamples(int64_t samples, int batch_size, int workers) {
  const int64_t per_step = static_cast<int64_t>(batch_size) * std::max(1, workers);
  return std::max<int64_t>(1, (samples + per_step - 1) / per_step);
}

int RunSelect(const SelectOptions& o) {
  auto opened = Study::Open(o);
  if (!opened.ok()) return Fail(opened.status());
  Study& study = **opened;
  const ClusterJobLauncher launcher{
      o.launcher,
      o.self_binary,
      {"--servers", std::to_string(o.servers), "--workers", std::to_string(o.workers)}};
  // Trials a kill interrupted are marked running in the saved state: run
  // their rung again, from the checkpoint they reached.
  for (const auto& w : study.Interrupted()) {
    std::cerr << "metaps select: trial " << w.trial << " rung " << w.rung
              << " was interrupted: running it again from its last checkpoint\n";
    if (Status s = RunRung(&study, launcher, w, /*restarted=*/true); !s.ok()) return Fail(s);
    if (Status s = study.Save(); !s.ok()) return Fail(s);
  }
  for (;;) {
    const SuccessiveHalving::Work w = study.Next();
    if (Status s = study.Save(); !s.ok()) return Fail(s);  // the decision, before acting on it
    if (w.kind == SuccessiveHalving::Work::Kind::kDone) break;
    if (w.kind == SuccessiveHalving::Work::Kind::kWait) {
      return Fail(Internal("nothing to run while trials run (one worker group)"));
    }
    if (Status s = RunRung(&study, launcher, w, /*restarted=*/false); !s.ok()) return Fail(s);
    if (Status s = study.Save(); !s.ok()) return Fail(s);
  }
  auto best = study.Finish();
  if (!best.ok()) return Fail(best.status());
  auto exported = RunClusterJob(launcher, "export",
                                {"--config", study.TrialFile(*best), "--checkpoint",
                                 JoinPath(study.TrialDir(*best), "checkpoints"), "--out",
                                 study.Path("best-model"), "--data", o.data_dir},
                                study.TrialDir(*best), "export");
  if (!exported.ok()) return Fail(exported.status());
  study.PrintDone(*best, OrderedJson::object());
  return 0;
}

}  // namespace metaps
