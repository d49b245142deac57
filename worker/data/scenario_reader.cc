#include "worker/data/scenario_reader.h"

#include <algorithm>
#include <limits>

#include "worker/data/feature_hash.h"
#include "worker/data/text_fields.h"

namespace metaps {
namespace {

constexpr std::string_view kRequiredColumns = "label,scenario,user,item";
constexpr size_t kFixedColumns = 4;  // label, scenario, user, item
constexpr uint32_t kUserSlot = 0;
constexpr uint32_t kItemSlot = 1;

class ScenarioParser : public LineParser {
 public:
  ScenarioParser(size_t num_columns, const ScenarioMap& scenario, size_t scenario_column)
      : num_columns_(num_columns), scenario_(scenario), scenario_column_(scenario_column) {}

  bool ParseLine(std::string_view line, Batch* batch, std::string* reason) override {
    SplitFields(line, ',', &fields_);
    if (fields_.size() != num_columns_) {
      *reason = "expected " + std::to_string(num_columns_) + " fields, got " +
                std::to_string(fields_.size());
      return false;
    }
    float label;
    if (!ParseFloat(fields_[0], &label) || (label != 0 && label != 1)) {
      *reason = "label '" + std::string(fields_[0].substr(0, 64)) + "' is not 0 or 1";
      return false;
    }
    uint64_t scenario, user, item;
    if (scenario_.enabled()) {
      uint32_t mapped;
      if (!scenario_.Map(fields_[scenario_column_], &mapped, reason)) return false;
      scenario = mapped;
    } else if (!ParseUint64(fields_[1], &scenario) ||
               scenario > std::numeric_limits<uint32_t>::max()) {
      *reason = "scenario '" + std::string(fields_[1].substr(0, 64)) + "' is not a 32-bit id";
      return false;
    }
    if (!ParseUint64(fields_[2], &user)) return Bad("user", fields_[2], reason);
    if (!ParseUint64(fields_[3], &item)) return Bad("item", fields_[3], reason);
    batch->AddKey(kUserSlot, HashId(kUserSlot, user));
    batch->AddKey(kItemSlot, HashId(kItemSlot, item));
    for (size_t c = kFixedColumns; c < num_columns_; ++c) {
      const uint32_t slot = static_cast<uint32_t>(c - kFixedColumns + 2);
      SplitFields(fields_[c], '|', &tokens_);
      for (std::string_view token : tokens_) {
        if (!token.empty()) batch->AddKey(slot, HashToken(slot, token));
      }
    }
    batch->FinishExample(label, static_cast<uint32_t>(scenario), user, item);
    return true;
  }

 private:
  static bool Bad(const char* what, std::string_view field, std::string* reason) {
    *reason = std::string(what) + " id '" + std::string(field.substr(0, 64)) + "' is not a number";
    return false;
  }

  const size_t num_columns_;
  const ScenarioMap scenario_;
  const size_t scenario_column_;
  std::vector<std::string_view> fields_, tokens_;
};

class ScenarioReader : public LineReader {
 public:
  ScenarioReader(std::vector<std::string> files, const ReaderOptions& options, std::string header,
                 const std::vector<std::string_view>& columns, const ScenarioMap& scenario,
                 size_t scenario_column)
      : LineReader(std::move(files), options),
        header_(std::move(header)),
        num_columns_(columns.size()),
        scenario_(scenario),
        scenario_column_(scenario_column) {
    schema_.slots.push_back({"user"});
    schema_.slots.push_back({"item"});
    for (size_t c = kFixedColumns; c < columns.size(); ++c) {
      schema_.slots.push_back({std::string(columns[c])});
    }
  }

 protected:
  std::unique_ptr<LineParser> NewParser() const override {
    return std::make_unique<ScenarioParser>(num_columns_, scenario_, scenario_column_);
  }

  StatusOr<bool> IsHeader(std::string_view line, const std::string& path) const override {
    if (line == header_) return true;
    return InvalidArgument(path + ":1: header '" + std::string(line.substr(0, 200)) +
                           "' differs from the first file's '" + header_ +
                           "' (every scenario file needs the same header)");
  }

 private:
  const std::string header_;
  const size_t num_columns_;
  const ScenarioMap scenario_;
  const size_t scenario_column_;
};

}  // namespace

StatusOr<std::unique_ptr<Reader>> OpenScenarioReader(std::vector<std::string> files,
                                                     const ReaderOptions& options,
                                                     const ScenarioMap& scenario) {
  RETURN_IF_ERROR(LineReader::ValidateOptions(files, options));
  ASSIGN_OR_RETURN(std::unique_ptr<LineFile> first, LineFile::Open(files[0], 64 << 10));
  std::string_view line;
  ASSIGN_OR_RETURN(bool got, first->Next(&line));
  if (!got || line.substr(0, kRequiredColumns.size()) != kRequiredColumns ||
      (line.size() > kRequiredColumns.size() && line[kRequiredColumns.size()] != ',')) {
    return InvalidArgument(files[0] + ":1: expected a header starting '" +
                           std::string(kRequiredColumns) + "', got '" +
                           std::string(line.substr(0, 200)) + "'");
  }
  const std::string header(line);
  std::vector<std::string_view> columns;
  SplitFields(header, ',', &columns);
  for (size_t c = kFixedColumns; c < columns.size(); ++c) {
    if (columns[c].empty()) {
      return InvalidArgument(files[0] + ":1: column " + std::to_string(c + 1) +
                             " of the header has no name");
    }
  }
  size_t scenario_column = 1;
  if (scenario.enabled()) {
    auto it = std::find(columns.begin(), columns.end(), scenario.column());
    if (it == columns.end() || it == columns.begin()) {
      return InvalidArgument("data.scenario_from: column '" + scenario.column() + "' is not in " +
                             files[0] + "'s header '" + header.substr(0, 200) +
                             "' (or is the label)");
    }
    scenario_column = static_cast<size_t>(it - columns.begin());
  }
  return std::unique_ptr<Reader>(
      new ScenarioReader(std::move(files), options, header, columns, scenario, scenario_column));
}

}  // namespace metaps
