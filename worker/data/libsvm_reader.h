// libsvm / libFM and FFM text formats:
//   libsvm:  label [qid:Q] index:value index:value ... [# comment]
//   FFM:     label field:index:value field:index:value ...
// Tokens are separated by spaces or tabs. Both carry values. A key is
// HashId(slot, index), or the index itself with raw_keys (for models that need
// the original index space). `qid` becomes the example's user id (for
// per-query ranking metrics).
//
// Slots:
//   libsvm without fields: one slot, "features" (an FM over it has no pairs).
//   libsvm with fields: one slot per distinct field name, in order of the
//     fields' first indices; a feature index in no field makes the line
//     malformed ("feature index N is in no field").
//   FFM: field f (0 <= f < num_fields) goes to slot f, "field<f>"; a field id
//     >= num_fields makes the line malformed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "worker/data/reader.h"

namespace metaps {

// Feature indices first..last (inclusive) belong to the field `name`.
struct LibsvmField {
  std::string name;
  uint64_t first = 0;
  uint64_t last = 0;
};

struct LibsvmOptions {
  bool ffm = false;
  int num_fields = 0;  // FFM only: fields must be in [0, num_fields)
  // libsvm only: ranges, not overlapping; empty: every feature in "features".
  std::vector<LibsvmField> fields;
  // Classification: label > 0 -> 1, else 0 (so -1/+1 and 0/1 both work).
  // Otherwise the label is kept as written (regression).
  bool binary_label = true;
  bool raw_keys = false;
};

// InvalidArgument for FFM without a positive num_fields, for fields with FFM,
// or for overlapping or empty field ranges.
StatusOr<std::unique_ptr<Reader>> OpenLibsvmReader(std::vector<std::string> files,
                                                   const LibsvmOptions& format,
                                                   const ReaderOptions& options);

// A libFM --meta file: line i (0-based) names the field (group) of feature
// index i; runs of equal names become one range each. NotFound if it cannot
// be opened, InvalidArgument naming file:line for a blank or spaced name.
StatusOr<std::vector<LibsvmField>> LoadLibsvmFieldMap(const std::string& path);

// FFM: 1 + the largest field id of any field:index:value token in `files`
// (tokens that do not parse are skipped; the reader reports their lines).
// InvalidArgument naming the files if none has such a token.
StatusOr<int> InferFfmNumFields(const std::vector<std::string>& files);

}  // namespace metaps
