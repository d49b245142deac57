// Opens the train/valid/test readers of a job's data.format, so the trainer
// never sees formats. `data_dir` (from --data) is where relative paths and
// the files of directory formats (datagen-*, movielens) are looked up.
//
//   criteo, avazu, libsvm, ffm: data.train / data.valid / data.test files
//   datagen-ctr:       DIR/{train,valid,test}.txt        (Criteo TSV)
//   datagen-ratings:   DIR/{split}.ratings.csv + users.csv + movies.csv
//   datagen-scenarios: DIR/{train,valid,test}.csv        (scenario CSV)
//   (datagen-ctr/-scenarios: data.train/valid/test, where set, replace these)
//   libsvm:            slots from data.fields or data.field_map (libFM meta)
//   ffm:               data.num_fields, or 1 + the largest field id in data.train
//   scenario ids:      data.scenario_from / scenario_values / scenario_bounds
//   movielens:         DIR/u.data | ratings.dat | ratings.csv with side files;
//                      a deterministic holdout by hash(user, item, seed):
//                      holdout_fraction (default 0.1) each for test and valid
#pragma once

#include <string>

#include "common/proto/job.pb.h"
#include "worker/trainer.h"

namespace metaps {

// Checks, before any rank starts, that the data the job names is there:
// every data.train/valid/test file (NotFound naming the field and the path),
// data.field_map, the default train file of datagen-ctr/-scenarios, the
// MovieLens ratings file, and the users file that data.scenario_from needs;
// then opens every split's reader (headers, side files, the scenario column,
// FFM's field count) without parsing a data line.
Status CheckDataSources(const config::JobConfig& job, const std::string& data_dir);

// For multi_scenario models the readers also check every scenario id against
// model.num_scenarios (an error naming file:line) and count examples per
// scenario (ReaderStats::scenario_examples).
StatusOr<TrainerData> OpenDataSources(const config::JobConfig& job, const std::string& data_dir);

// A reader of one more ratings file laid out as the job's data (movielens or
// datagen-ratings: the ratings file's layout, with the side files of
// `data_dir`): `metaps adapt`'s support and query files.
StatusOr<ReaderFactory> OpenRatingsFile(const config::JobConfig& job, const std::string& data_dir,
                                        const std::string& file);

}  // namespace metaps
