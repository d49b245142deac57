// Helpers of the datagen tests: generating into a temp dir, reading back.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/env.h"
#include "tests/worker/reader_test_util.h"
#include "worker/data/datagen.h"

namespace metaps {
namespace testing_util {

inline std::string TempDir(const std::string& name) {
  return ::testing::TempDir() + "/metaps_datagen_" + name;
}

inline std::string ReadFile(const std::string& path) {
  std::string data;
  EXPECT_TRUE(Env::Default()->ReadFileToString(path, &data).ok()) << path;
  return data;
}

// The number after "key": in a one-line JSON object; NaN when absent or null.
inline double JsonNumber(const std::string& json, const std::string& key, size_t from = 0) {
  const size_t at = json.find("\"" + key + "\":", from);
  if (at == std::string::npos) return NAN;
  const char* begin = json.c_str() + at + key.size() + 3;
  char* end = nullptr;
  const double value = std::strtod(begin, &end);
  return end == begin ? NAN : value;
}

struct Generated {
  DatagenResult result;
  std::vector<PlantedRow> rows;
};

inline Generated Generate(DatagenKind kind, uint64_t rows, uint64_t seed, const std::string& dir,
                          int scenarios = 3) {
  Generated out;
  DatagenOptions options;
  options.kind = kind;
  options.rows = rows;
  options.seed = seed;
  options.out_dir = dir;
  options.scenarios = scenarios;
  options.on_row = [&out](const PlantedRow& row) { out.rows.push_back(row); };
  StatusOr<DatagenResult> result = GenerateDataset(options, Env::Default());
  EXPECT_TRUE(result.ok()) << result.status();
  if (result.ok()) out.result = std::move(result).value();
  return out;
}

// Labels and true values of one split, in file order.
inline void SplitRows(const Generated& g, DataSplit split, std::vector<double>* truth,
                      std::vector<float>* labels, std::vector<uint32_t>* scenarios = nullptr) {
  for (const PlantedRow& row : g.rows) {
    if (row.split != split) continue;
    truth->push_back(row.truth);
    labels->push_back(row.label);
    if (scenarios != nullptr) scenarios->push_back(row.scenario);
  }
}

// Every label of a drained reader, in order.
inline std::vector<float> Labels(const Drained& drained) {
  std::vector<float> labels;
  for (const Batch& b : drained.batches)
    labels.insert(labels.end(), b.labels.begin(), b.labels.end());
  return labels;
}

}  // namespace testing_util
}  // namespace metaps
