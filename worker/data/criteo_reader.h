// Criteo display-advertising data, in two layouts detected per file:
//  - TSV (the original dayN / train.txt): label \t I1..I13 \t C1..C26, no header;
//  - CSV with the header "label,I1,...,I13,C1,...,C26" (Kaggle samples).
// The delimiter is the first tab or comma seen in a file's first line.
//
// Output: label 0/1; dense I1..I13 as float with x -> log(1 + x) for x > 0 and
// x unchanged for x <= 0 (Criteo has -1, -2 in I2), an empty field -> 0,
// followed by 13 indicators I1_missing..I13_missing (1 for an empty field), so
// that "missing" and "0" stay apart (kCriteoDenseFeatures dense values in all);
// sparse slots C1..C26, one key HashToken(slot, token) each, none when the
// field is empty. Integer fields may be written as floats ("260.0").
// A line with other than 40 fields, a label other than 0/1, or a non-numeric
// integer field is malformed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "worker/data/reader.h"
#include "worker/data/scenario_map.h"

namespace metaps {

inline constexpr int kCriteoNumDense = 13;
inline constexpr int kCriteoNumSlots = 26;
inline constexpr int kCriteoDenseFeatures = 2 * kCriteoNumDense;  // values, then indicators

// With `scenario` enabled, its column (I1..I13 or C1..C26, the text as
// written) gives each example's scenario id; InvalidArgument for another name.
StatusOr<std::unique_ptr<Reader>> OpenCriteoReader(std::vector<std::string> files,
                                                   const ReaderOptions& options,
                                                   const ScenarioMap& scenario = ScenarioMap());

// The dense transform above, exposed for tests and for generating data.
float CriteoDenseTransform(double x);

}  // namespace metaps
