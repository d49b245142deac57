// Helpers shared by the libFuzzer targets in this folder (see CMakeLists.txt).
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/logging.h"
#include "worker/batch.h"
#include "worker/data/reader.h"

namespace metaps::fuzz {

// A directory private to this fuzzing process (made once, removed at exit is
// not needed: it holds a handful of small files that each input overwrites).
inline const std::string& ScratchDir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string templ =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/metaps-fuzz-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) std::abort();
    return templ;
  }();
  return dir;
}

// Writes `data` to ScratchDir()/name and returns the path.
inline std::string WriteScratch(const std::string& name, std::string_view data) {
  const std::string path = ScratchDir() + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (!data.empty() && std::fwrite(data.data(), 1, data.size(), f) != data.size()) std::abort();
  std::fclose(f);
  return path;
}

// Reader options for fuzzing: small batches and buffers (so that lines cross
// buffer refills), every bad line skipped rather than failing the file.
inline ReaderOptions FuzzReaderOptions() {
  ReaderOptions options;
  options.batch_size = 7;
  options.max_bad_fraction = 1.0;
  options.read_buffer_bytes = 64;
  return options;
}

// Reads `reader` to the end (or its first error), checking that every batch
// is consistent with the schema.
inline void Drain(Reader* reader) {
  Batch batch;
  for (int i = 0; i < 1 << 20; ++i) {
    if (!reader->Next(&batch).ok() || batch.empty()) return;
    if (batch.slots.size() != reader->schema().slots.size()) std::abort();
    if (batch.dense.size() != batch.size() * batch.num_dense) std::abort();
    for (const SparseSlot& slot : batch.slots) {
      if (slot.offsets.size() != batch.size() + 1 || slot.offsets.back() != slot.keys.size()) {
        std::abort();
      }
      if (slot.has_values && slot.values.size() != slot.keys.size()) std::abort();
    }
  }
}

// Quiets WARNING logs of bad lines: the fuzzer feeds millions of them.
inline void QuietLogs() { SetLogLevel(LogLevel::kError); }

}  // namespace metaps::fuzz
