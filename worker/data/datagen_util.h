// Internals shared by the datagen generators (datagen_*.cc): buffered output
// files, allocation-free number formatting, the oracle's JSON line, and the
// randomness conventions. Not a public API.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/hash.h"
#include "common/json.h"
#include "worker/data/datagen.h"

namespace metaps {
namespace datagen {

// Table ids of the counter-based streams (RowStreamSeed's table_id): one per
// kind of draw, so that no two draws of a dataset share a stream.
enum StreamTable : uint32_t {
  kCtrFieldTable = 100,  // + field: a categorical value's weight and latent vector
  kCtrFieldParams = 190,
  kCtrDenseParams = 200,
  kCtrRows = 300,
  kCtrCalibration = 301,
  kWorldUsers = 400,
  kWorldItems = 401,
  kWorldParams = 402,
  kRatingRows = 500,
  kScenarioParams = 600,
  kScenarioRows = 601,
  kScenarioCalibration = 602,
  kCtrDriftTable = 700,  // + field: the daily innovations of a drifting ctr model
};

// Element `index` of the stream (seed, table, key) as a double in (0, 1) / N(0, 1).
double Uniform(uint64_t seed, uint32_t table, uint64_t key, uint64_t index);
double Normal(uint64_t seed, uint32_t table, uint64_t key, uint64_t index);

inline double Sigmoid(double x) {
  return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}

// The bias b with mean(sigmoid(b + z[i])) == rate, by bisection.
double SolveBiasForRate(const std::vector<double>& z, double rate);

// Mean and standard deviation (1 when degenerate) of `x`.
void MeanStd(const std::vector<double>& x, double* mean, double* std);

// Which split row `row` falls in, for the sizes of DatagenSplitSizes.
inline DataSplit SplitOfRow(uint64_t row, const uint64_t sizes[kNumDataSplits]) {
  if (row < sizes[0]) return DataSplit::kTrain;
  return row < sizes[0] + sizes[1] ? DataSplit::kValid : DataSplit::kTest;
}

// A file written sequentially through a buffer of about 1 MiB.
class BufferedFile {
 public:
  static StatusOr<std::unique_ptr<BufferedFile>> Open(Env* env, const std::string& path);
  // Append to it, then call MaybeFlush.
  std::string& buffer() { return buffer_; }
  Status MaybeFlush() { return buffer_.size() >= kFlushBytes ? Flush() : Status::Ok(); }
  Status Close();

 private:
  static constexpr size_t kFlushBytes = 1 << 20;
  explicit BufferedFile(std::unique_ptr<WritableFile> file) : file_(std::move(file)) {
    buffer_.reserve(kFlushBytes + 4096);
  }
  Status Flush();

  std::unique_ptr<WritableFile> file_;
  std::string buffer_;
};

// dir/<split name><suffix> for the three splits, each starting with `header`
// (a line with its newline, or empty). Appends the paths to *paths.
class SplitFiles {
 public:
  Status Open(Env* env, const std::string& dir, const std::string& suffix,
              const std::string& header, std::vector<std::string>* paths);
  BufferedFile& operator[](DataSplit split) { return *files_[static_cast<int>(split)]; }
  Status Close();

 private:
  std::unique_ptr<BufferedFile> files_[kNumDataSplits];
};

void AppendUint(uint64_t value, std::string* out);
void AppendInt(int64_t value, std::string* out);
// Eight lowercase hex digits, like Criteo's categorical tokens.
void AppendHex32(uint32_t value, std::string* out);
// A multiple of 0.5 as "3.5" / "4.0".
void AppendHalfStep(double value, std::string* out);

// Writes result->oracle_json (plus a newline) to dir/oracle.json and lists it.
Status WriteOracle(Env* env, const std::string& dir, DatagenResult* result);

// The generators, called by GenerateDataset with validated options.
Status GenerateCtr(const DatagenOptions& options, Env* env, DatagenResult* result);
// --days: options.days partitions dir/day=YYYY-MM-DD of options.rows rows each.
Status GenerateCtrDays(const DatagenOptions& options, Env* env, DatagenResult* result);
Status GenerateRatings(const DatagenOptions& options, Env* env, DatagenResult* result);
Status GenerateScenarios(const DatagenOptions& options, Env* env, DatagenResult* result);

}  // namespace datagen
}  // namespace metaps
