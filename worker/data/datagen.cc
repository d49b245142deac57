#include "worker/data/datagen.h"

#include <cstdio>

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

// Days from civil and back: H. Hinnant's algorithms (chrono-Compatible
// Low-Level Date Algorithms), with eras of 400 years.
std::string CivilDate(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2);
  char text[32];
  std::snprintf(text, sizeof(text), "%04lld-%02lld-%02lld", static_cast<long long>(y),
                static_cast<long long>(m), static_cast<long long>(d));
  return text;
}

StatusOr<int64_t> ParseCivilDate(const std::string& text) {
  int y = 0, m = 0, d = 0;
  const bool shape = text.size() == 10 && text[4] == '-' && text[7] == '-' &&
                     text.find_first_not_of("0123456789-") == std::string::npos;
  if (shape) {
    y = std::stoi(text.substr(0, 4));
    m = std::stoi(text.substr(5, 2));
    d = std::stoi(text.substr(8, 2));
  }
  const int64_t yy = y - (m <= 2);
  const int64_t era = yy / 400;
  const int64_t yoe = yy - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = era * 146097 + doe - 719468;
  // A valid date is one that comes back as written (rejects 2026-02-30).
  if (!shape || m < 1 || m > 12 || d < 1 || d > 31 || CivilDate(days) != text) {
    return InvalidArgument("'" + text + "' is not a date YYYY-MM-DD");
  }
  return days;
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
  if (options.days < 0 || options.days > 3660 ||
      (options.days > 0 && options.kind != DatagenKind::kCtr)) {
    return InvalidArgument("--days must be in [0, 3660] and needs --kind ctr");
  }
  if (!(options.drift >= 0 && options.drift <= 1)) {
    return InvalidArgument("--drift must be in [0, 1], got " + std::to_string(options.drift));
  }
  RETURN_IF_ERROR(env->CreateDir(options.out_dir));
  DatagenResult result;
  DatagenSplitSizes(options.rows, result.split_rows);
  if (options.days > 0) {
    RETURN_IF_ERROR(datagen::GenerateCtrDays(options, env, &result));
    return result;
  }
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
