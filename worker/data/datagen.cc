#include "worker/data/datagen.h"

#include "worker/data/datagen_util.h"

namespace metaps {

StatusOr<DatagenKind> ParseDatagenKind(const std::string& name) {
  if (name == "ctr") return DatagenKind::kCtr;
  if (name == "ratings") return DatagenKind::kRatings;
  if (name == "scenarios") return DatagenKind::kScenarios;
  return InvalidArgument("--kind must be ctr, ratings or scenarios, got '" + name + "'");
}

const char* DatagenKindName(DatagenKind kind) {
  switch (kind) {
    case DatagenKind::kCtr:
      return "ctr";
    case DatagenKind::kRatings:
      return "ratings";
    case DatagenKind::kScenarios:
      return "scenarios";
  }
  return "?";
}

const char* DataSplitName(DataSplit split) {
  switch (split) {
    case DataSplit::kTrain:
      return "train";
    case DataSplit::kValid:
      return "valid";
    case DataSplit::kTest:
      return "test";
  }
  return "?";
}

void DatagenSplitSizes(uint64_t rows, uint64_t sizes[kNumDataSplits]) {
  // rows / 10 * 8 + ... would lose rows; this keeps every row and exact 80/10/10
  // for multiples of 10.
  sizes[0] = rows / 10 * 8 + rows % 10 * 8 / 10;
  sizes[1] = rows / 10;
  sizes[2] = rows - sizes[0] - sizes[1];
}

StatusOr<DatagenResult> GenerateDataset(const DatagenOptions& options, Env* env) {
  constexpr uint64_t kMaxRows = uint64_t{1} << 40;
  constexpr uint64_t kMaxEntities = uint64_t{1} << 26;
  if (options.rows == 0 || options.rows > kMaxRows) {
    return InvalidArgument("--rows must be in [1, 2^40], got " + std::to_string(options.rows));
  }
  if (options.out_dir.empty()) return InvalidArgument("--out DIR is required");
  if (options.kind == DatagenKind::kScenarios &&
      (options.scenarios < 2 || options.scenarios > 16)) {
    return InvalidArgument("--scenarios must be in [2, 16], got " +
                           std::to_string(options.scenarios));
  }
  if (options.users > kMaxEntities || options.items > kMaxEntities) {
    return InvalidArgument("--users and --items must be at most 2^26");
  }
  RETURN_IF_ERROR(env->CreateDir(options.out_dir));
  DatagenResult result;
  DatagenSplitSizes(options.rows, result.split_rows);
  switch (options.kind) {
    case DatagenKind::kCtr:
      RETURN_IF_ERROR(datagen::GenerateCtr(options, env, &result));
      break;
    case DatagenKind::kRatings:
      RETURN_IF_ERROR(datagen::GenerateRatings(options, env, &result));
      break;
    case DatagenKind::kScenarios:
      RETURN_IF_ERROR(datagen::GenerateScenarios(options, env, &result));
      break;
  }
  RETURN_IF_ERROR(datagen::WriteOracle(env, options.out_dir, &result));
  return result;
}

}  // namespace metaps
