// Helpers shared by the reader tests: fixture paths, temp files, draining a reader.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "worker/batch.h"
#include "worker/data/reader.h"

namespace metaps {
namespace testing_util {

// The repo root: $METAPS_SOURCE_DIR (set by ctest), else the configure-time path.
inline std::string SourceDir() {
  const char* env = std::getenv("METAPS_SOURCE_DIR");
  return env != nullptr ? env : METAPS_TEST_SOURCE_DIR;
}
inline std::string FixtureDir() { return SourceDir() + "/tests/data"; }
// /work/shared/data: the samples too large to keep in the repo.
inline std::string SharedDataDir() { return SourceDir() + "/../shared/data"; }

inline bool FileExists(const std::string& path) { return std::ifstream(path).good(); }

// Writes `content` to a fresh file under the test temp dir and returns its path.
inline std::string WriteTempFile(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/metaps_" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return path;
}

// Every batch of a reader, concatenated; fails the test on an error.
struct Drained {
  std::vector<Batch> batches;
  size_t examples = 0;
  Status status;
};

inline Drained DrainReader(Reader* reader) {
  Drained out;
  for (;;) {
    Batch batch;
    out.status = reader->Next(&batch);
    if (!out.status.ok() || batch.empty()) return out;
    out.examples += batch.size();
    out.batches.push_back(std::move(batch));
  }
}

}  // namespace testing_util
}  // namespace metaps
