// Synthetic datasets drawn from planted models (`metaps datagen`), so that a
// learner can be measured against a known optimum. Three kinds:
//
//   ctr        Criteo TSV (label, I1..I13, C1..C26; read by OpenCriteoReader):
//              train.txt valid.txt test.txt. Labels ~ Bernoulli(sigmoid(logit)),
//              logit = bias + first-order + FM second-order + a small dense MLP.
//   ratings    MovieLens ml-latest layout (read by OpenMovieLensReader through
//              DetectMovieLensSplit): {train,valid,test}.ratings.csv
//              (userId,movieId,rating,timestamp), users.csv
//              (userId,gender,age,occupation,zip), movies.csv (movieId,title,genres).
//              rating = clip(round_to_half(mu + b_u + b_i + <p_u, q_i> + noise), 0.5, 5).
//   scenarios  The ratings kind's users and items seen in K scenarios with
//              shifted preferences and binary clicks: {train,valid,test}.csv
//              with the header label,scenario,user,item,age,gender,occupation,genres
//              (read by OpenScenarioReader).
//
// Rows are split in file order: the first 80% train, the next 10% valid, the
// rest test. Every random draw is a counter-based function of (seed, what, row),
// so the same options give byte-identical files, and rows are streamed to disk
// (memory holds only the model). oracle.json holds the Bayes-optimal metrics,
// computed from the true probabilities (or noise-free ratings) of the rows.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"

namespace metaps {

enum class DatagenKind { kCtr, kRatings, kScenarios };
StatusOr<DatagenKind> ParseDatagenKind(const std::string& name);
const char* DatagenKindName(DatagenKind kind);

enum class DataSplit { kTrain = 0, kValid = 1, kTest = 2 };
inline constexpr int kNumDataSplits = 3;
const char* DataSplitName(DataSplit split);

// One generated row, as the oracle saw it.
struct PlantedRow {
  DataSplit split;
  float label;        // as written: click 0/1, or the rating
  double truth;       // true click probability, or the noise-free rating
  uint32_t scenario;  // 0 unless kind is scenarios
};

struct DatagenOptions {
  DatagenKind kind = DatagenKind::kCtr;
  uint64_t rows = 0;  // > 0
  uint64_t seed = 1;
  std::string out_dir;  // created if missing; existing files are overwritten
  int scenarios = 3;    // scenarios only, in [2, 16]
  uint64_t users = 0;   // ratings and scenarios; 0 = derived from rows
  uint64_t items = 0;   // ratings and scenarios; 0 = derived from rows
  // Called for every row in file order (tests check the oracle with it).
  std::function<void(const PlantedRow&)> on_row;
  // ctr only, days > 0: `days` daily partitions out_dir/day=YYYY-MM-DD (from
  // start_day, days since 1970-01-01) of `rows` rows each, split 80/10/10 like
  // a single dataset, whose planted model drifts by `drift` in [0, 1] a day
  // (consecutive days' weights correlate sqrt(1 - drift)). Each partition has
  // its own oracle.json, with the previous day's model scored on its test rows.
  int days = 0;
  double drift = 0;
  int64_t start_day = 0;
  // Called after each partition with its directory and oracle line.
  std::function<void(const std::string& dir, const std::string& oracle_json)> on_day;
};

struct DatagenResult {
  uint64_t split_rows[kNumDataSplits] = {0, 0, 0};
  std::vector<std::string> files;  // every path written, oracle.json last
  std::string oracle_json;         // the content of oracle.json, one line
};

// "YYYY-MM-DD" of `days` days since 1970-01-01 (proleptic Gregorian, UTC).
std::string CivilDate(int64_t days);
// The inverse; InvalidArgument naming `text` unless it is a valid YYYY-MM-DD.
StatusOr<int64_t> ParseCivilDate(const std::string& text);

// Rows per split for `rows` in total: train rows*8/10, valid rows/10, test the rest.
void DatagenSplitSizes(uint64_t rows, uint64_t sizes[kNumDataSplits]);

// InvalidArgument naming the option for bad options; disk errors name the path.
StatusOr<DatagenResult> GenerateDataset(const DatagenOptions& options, Env* env);

}  // namespace metaps
