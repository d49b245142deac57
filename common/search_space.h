// Model selection's search space (`search { param { ... } }` in a job; README
// "Model selection"): the trials a study runs, each the job with a value for
// every searched field, checked like a job before anything runs.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/proto/job.pb.h"
#include "common/status.h"

namespace metaps {

struct Trial {
  int index = 0;
  // (field, value) in the search block's order, as --set would take them.
  std::vector<std::pair<std::string, std::string>> values;
  config::JobConfig job;  // the base job with the values applied, search cleared
  // "dense_optimizer.lr=0.003, model.hidden=64,32"
  std::string Describe() const;
};

// The trials of the job in `text` (named `source`; `overrides` as --set), which
// must have a search block: the cross product of the grid parameters in order
// (the first outermost) times search.samples draws of the choice and range
// parameters, by a generator of (search.seed, sample, parameter) alone.
// Integer fields take rounded draws. Each trial is the text parsed again with
// the overrides and the trial's values, so it passes every check a job does;
// one that fails is InvalidArgument naming the trial, its values and the field.
StatusOr<std::vector<Trial>> ExpandTrials(const std::string& text, const std::string& source,
                                          const std::vector<std::string>& overrides = {});
// One trial: the job in `text` with `values` applied after `overrides` (those
// of the search block excepted), checked like a job; errors as ExpandTrials'.
StatusOr<Trial> MakeTrial(const std::string& text, const std::string& source,
                          const std::vector<std::string>& overrides, int index,
                          const std::vector<std::pair<std::string, std::string>>& values);
// ExpandTrials of the file at `path`.
StatusOr<std::vector<Trial>> LoadTrials(const std::string& path,
                                        const std::vector<std::string>& overrides = {});

}  // namespace metaps
