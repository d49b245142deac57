#include "worker/data/criteo_reader.h"

#include <cmath>

#include "worker/data/feature_hash.h"
#include "worker/data/text_fields.h"

namespace metaps {
namespace {

constexpr size_t kCriteoFields = 1 + kCriteoNumDense + kCriteoNumSlots;

class CriteoReader : public LineReader {
 public:
  CriteoReader(std::vector<std::string> files, const ReaderOptions& options)
      : LineReader(std::move(files), options) {
    for (int i = 1; i <= kCriteoNumDense; ++i)
      schema_.dense_names.push_back("I" + std::to_string(i));
    for (int i = 1; i <= kCriteoNumDense; ++i)
      schema_.dense_names.push_back("I" + std::to_string(i) + "_missing");
    for (int i = 1; i <= kCriteoNumSlots; ++i) schema_.slots.push_back({"C" + std::to_string(i)});
    fields_.reserve(kCriteoFields);
  }

 protected:
  void OnFileOpened(const std::string&) override { delimiter_ = 0; }

  StatusOr<bool> IsHeader(std::string_view line, const std::string&) override {
    DetectDelimiter(line);
    return line.substr(0, 6) == "label" + std::string(1, delimiter_);
  }

  bool ParseLine(std::string_view line, Batch* batch, std::string* reason) override {
    if (delimiter_ == 0) DetectDelimiter(line);
    SplitFields(line, delimiter_, &fields_);
    if (fields_.size() != kCriteoFields) {
      *reason =
          "expected 40 fields (label, I1..I13, C1..C26), got " + std::to_string(fields_.size());
      return false;
    }
    float label;
    if (!ParseFloat(fields_[0], &label) || (label != 0 && label != 1)) {
      *reason = "label '" + std::string(fields_[0]) + "' is not 0 or 1";
      return false;
    }
    for (int i = 0; i < kCriteoNumDense; ++i) {
      std::string_view field = fields_[1 + i];
      double x = 0;
      if (!field.empty() && !ParseDouble(field, &x)) {
        *reason = "I" + std::to_string(i + 1) + " '" + std::string(field) + "' is not a number";
        return false;
      }
      batch->AddDense(CriteoDenseTransform(x));
    }
    for (int i = 0; i < kCriteoNumDense; ++i) batch->AddDense(fields_[1 + i].empty() ? 1.0f : 0.0f);
    for (int s = 0; s < kCriteoNumSlots; ++s) {
      std::string_view token = fields_[1 + kCriteoNumDense + s];
      if (!token.empty()) batch->AddKey(s, HashToken(s, token));
    }
    batch->FinishExample(label);
    return true;
  }

 private:
  void DetectDelimiter(std::string_view line) {
    const size_t at = line.find_first_of("\t,");
    delimiter_ = at == std::string_view::npos ? '\t' : line[at];
  }

  char delimiter_ = 0;  // per file; 0 until the first line is seen
  std::vector<std::string_view> fields_;
};

}  // namespace

float CriteoDenseTransform(double x) { return static_cast<float>(x > 0 ? std::log1p(x) : x); }

StatusOr<std::unique_ptr<Reader>> OpenCriteoReader(std::vector<std::string> files,
                                                   const ReaderOptions& options) {
  RETURN_IF_ERROR(LineReader::ValidateOptions(files, options));
  return std::unique_ptr<Reader>(new CriteoReader(std::move(files), options));
}

}  // namespace metaps
