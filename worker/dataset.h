// Opens the train/valid/test readers of a job's data.format, so the trainer
// never sees formats. `data_dir` (from --data) is where relative paths and
// the files of directory formats (datagen-*, movielens) are looked up.
//
//   criteo, avazu, libsvm, ffm: data.train / data.valid / data.test files
//   datagen-ctr:       DIR/{train,valid,test}.txt        (Criteo TSV)
//   datagen-ratings:   DIR/{split}.ratings.csv + users.csv + movies.csv
//   datagen-scenarios: DIR/{train,valid,test}.csv        (scenario CSV)
//   movielens:         DIR/u.data | ratings.dat | ratings.csv with side files;
//                      a deterministic holdout by hash(user, item, seed):
//                      holdout_fraction (default 0.1) each for test and valid
#pragma once

#include <string>

#include "common/proto/job.pb.h"
#include "worker/trainer.h"

namespace metaps {

StatusOr<TrainerData> OpenDataSources(const config::JobConfig& job, const std::string& data_dir);

}  // namespace metaps
