#include "worker/data/criteo_reader.h"

#include <cmath>

#include "worker/data/feature_hash.h"
#include "worker/data/text_fields.h"

namespace metaps {
namespace {

constexpr size_t kCriteoFields = 1 + kCriteoNumDense + kCriteoNumSlots;

// The delimiter of a file: the first tab or comma of its first line.
char DetectDelimiter(std::string_view first_line) {
  const size_t at = first_line.find_first_of("\t,");
  return at == std::string_view::npos ? '\t' : first_line[at];
}

class CriteoParser : public LineParser {
 public:
  CriteoParser(const ScenarioMap& scenario, size_t scenario_field)
      : scenario_(scenario), scenario_field_(scenario_field) {
    fields_.reserve(kCriteoFields);
  }

  void BeginFile(std::string_view first_line) override { delimiter_ = DetectDelimiter(first_line); }

  bool ParseLine(std::string_view line, Batch* batch, std::string* reason) override {
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
    uint32_t scenario = 0;
    if (scenario_.enabled() && !scenario_.Map(fields_[scenario_field_], &scenario, reason)) {
      return false;
    }
    batch->FinishExample(label, scenario);
    return true;
  }

 private:
  const ScenarioMap scenario_;
  const size_t scenario_field_;  // of the scenario column, when enabled
  char delimiter_ = '\t';        // of the file being parsed
  std::vector<std::string_view> fields_;
};

class CriteoReader : public LineReader {
 public:
  CriteoReader(std::vector<std::string> files, const ReaderOptions& options,
               const ScenarioMap& scenario, size_t scenario_field)
      : LineReader(std::move(files), options),
        scenario_(scenario),
        scenario_field_(scenario_field) {
    for (int i = 1; i <= kCriteoNumDense; ++i)
      schema_.dense_names.push_back("I" + std::to_string(i));
    for (int i = 1; i <= kCriteoNumDense; ++i)
      schema_.dense_names.push_back("I" + std::to_string(i) + "_missing");
    for (int i = 1; i <= kCriteoNumSlots; ++i) schema_.slots.push_back({"C" + std::to_string(i)});
  }

 protected:
  std::unique_ptr<LineParser> NewParser() const override {
    return std::make_unique<CriteoParser>(scenario_, scenario_field_);
  }

  StatusOr<bool> IsHeader(std::string_view line, const std::string&) const override {
    return line.substr(0, 6) == "label" + std::string(1, DetectDelimiter(line));
  }

 private:
  const ScenarioMap scenario_;
  const size_t scenario_field_;
};

}  // namespace

float CriteoDenseTransform(double x) { return static_cast<float>(x > 0 ? std::log1p(x) : x); }

StatusOr<std::unique_ptr<Reader>> OpenCriteoReader(std::vector<std::string> files,
                                                   const ReaderOptions& options,
                                                   const ScenarioMap& scenario) {
  RETURN_IF_ERROR(LineReader::ValidateOptions(files, options));
  size_t scenario_field = 0;
  if (scenario.enabled()) {
    const std::string& c = scenario.column();
    uint64_t n = 0;
    const bool dense = !c.empty() && c[0] == 'I', sparse = !c.empty() && c[0] == 'C';
    if ((!dense && !sparse) || !ParseUint64(std::string_view(c).substr(1), &n) || n < 1 ||
        n > static_cast<uint64_t>(dense ? kCriteoNumDense : kCriteoNumSlots)) {
      return InvalidArgument("data.scenario_from: '" + c +
                             "' is not a Criteo column (I1..I13, C1..C26)");
    }
    scenario_field = dense ? n : 1 + kCriteoNumDense + (n - 1);
  }
  return std::unique_ptr<Reader>(
      new CriteoReader(std::move(files), options, scenario, scenario_field));
}

}  // namespace metaps
