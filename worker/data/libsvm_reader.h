// libsvm / libFM and FFM text formats:
//   libsvm:  label [qid:Q] index:value index:value ... [# comment]
//   FFM:     label field:index:value field:index:value ...
// Tokens are separated by spaces or tabs. libsvm features go to one slot,
// "features"; FFM field f (0 <= f < num_fields) goes to slot f, "field<f>".
// Both carry values. A key is HashId(slot, index), or the index itself with
// raw_keys (for models that need the original index space). `qid` becomes the
// example's user id (for per-query ranking metrics).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "worker/data/reader.h"

namespace metaps {

struct LibsvmOptions {
  bool ffm = false;
  int num_fields = 0;  // FFM only: fields must be in [0, num_fields)
  // Classification: label > 0 -> 1, else 0 (so -1/+1 and 0/1 both work).
  // Otherwise the label is kept as written (regression).
  bool binary_label = true;
  bool raw_keys = false;
};

// InvalidArgument for FFM without a positive num_fields.
StatusOr<std::unique_ptr<Reader>> OpenLibsvmReader(std::vector<std::string> files,
                                                   const LibsvmOptions& format,
                                                   const ReaderOptions& options);

}  // namespace metaps
