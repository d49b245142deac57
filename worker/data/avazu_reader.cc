#include "worker/data/avazu_reader.h"

#include <algorithm>

#include "worker/data/feature_hash.h"
#include "worker/data/text_fields.h"

namespace metaps {
namespace {

// What to do with column i of a data line.
struct Column {
  enum Kind { kSkip, kLabel, kHour, kCategorical } kind;
  uint32_t slot;  // for kCategorical; kHour uses slot (hour) and slot + 1 (weekday)
};

// Day of week (0 = Sunday) of 20yy-mm-dd, by Sakamoto's method.
int Weekday(int y, int m, int d) {
  static const int kOffsets[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
  if (m < 3) y -= 1;
  return (y + y / 4 - y / 100 + y / 400 + kOffsets[m - 1] + d) % 7;
}

class AvazuParser : public LineParser {
 public:
  AvazuParser(std::shared_ptr<const std::vector<Column>> columns, const ScenarioMap& scenario,
              size_t scenario_column)
      : columns_(std::move(columns)), scenario_(scenario), scenario_column_(scenario_column) {}

  bool ParseLine(std::string_view line, Batch* batch, std::string* reason) override {
    const std::vector<Column>& columns = *columns_;
    SplitFields(line, ',', &fields_);
    if (fields_.size() != columns.size()) {
      *reason = "expected " + std::to_string(columns.size()) + " fields, got " +
                std::to_string(fields_.size());
      return false;
    }
    float label = 0;
    for (size_t i = 0; i < columns.size(); ++i) {
      const std::string_view field = fields_[i];
      const Column& column = columns[i];
      switch (column.kind) {
        case Column::kSkip:
          break;
        case Column::kLabel:
          if (!ParseFloat(field, &label) || (label != 0 && label != 1)) {
            *reason = "click '" + std::string(field) + "' is not 0 or 1";
            return false;
          }
          break;
        case Column::kHour: {
          uint64_t yymmddhh;
          if (field.size() != 8 || !ParseUint64(field, &yymmddhh)) {
            *reason = "hour '" + std::string(field) + "' is not YYMMDDHH";
            return false;
          }
          const int hh = static_cast<int>(yymmddhh % 100);
          const int dd = static_cast<int>(yymmddhh / 100 % 100);
          const int mm = static_cast<int>(yymmddhh / 10000 % 100);
          const int yy = static_cast<int>(yymmddhh / 1000000);
          if (hh > 23 || dd < 1 || dd > 31 || mm < 1 || mm > 12) {
            *reason = "hour '" + std::string(field) + "' is not a valid YYMMDDHH";
            return false;
          }
          batch->AddKey(column.slot, HashId(column.slot, static_cast<uint64_t>(hh)));
          batch->AddKey(column.slot + 1,
                        HashId(column.slot + 1, static_cast<uint64_t>(Weekday(2000 + yy, mm, dd))));
          break;
        }
        case Column::kCategorical:
          if (!field.empty()) batch->AddKey(column.slot, HashToken(column.slot, field));
          break;
      }
    }
    uint32_t scenario = 0;
    if (scenario_.enabled() && !scenario_.Map(fields_[scenario_column_], &scenario, reason)) {
      return false;
    }
    batch->FinishExample(label, scenario);
    return true;
  }

 private:
  const std::shared_ptr<const std::vector<Column>> columns_;
  const ScenarioMap scenario_;
  const size_t scenario_column_;
  std::vector<std::string_view> fields_;
};

class AvazuReader : public LineReader {
 public:
  AvazuReader(std::vector<std::string> files, const ReaderOptions& options, std::string header,
              const ScenarioMap& scenario, size_t scenario_column)
      : LineReader(std::move(files), options),
        header_(std::move(header)),
        scenario_(scenario),
        scenario_column_(scenario_column) {
    std::vector<Column> columns;
    std::vector<std::string_view> names;
    SplitFields(header_, ',', &names);
    for (std::string_view name : names) {
      const uint32_t slot = static_cast<uint32_t>(schema_.slots.size());
      if (name == "id") {
        columns.push_back({Column::kSkip, 0});
      } else if (name == "click") {
        columns.push_back({Column::kLabel, 0});
      } else if (name == "hour") {
        columns.push_back({Column::kHour, slot});
        schema_.slots.push_back({"hour_of_day"});
        schema_.slots.push_back({"weekday"});
      } else {
        columns.push_back({Column::kCategorical, slot});
        schema_.slots.push_back({std::string(name)});
      }
    }
    columns_ = std::make_shared<const std::vector<Column>>(std::move(columns));
  }

 protected:
  std::unique_ptr<LineParser> NewParser() const override {
    return std::make_unique<AvazuParser>(columns_, scenario_, scenario_column_);
  }

  StatusOr<bool> IsHeader(std::string_view line, const std::string& path) const override {
    if (line != header_) {
      return InvalidArgument(path + ":1: header '" + std::string(line.substr(0, 200)) +
                             "' differs from the first file's '" + header_ + "'");
    }
    return true;
  }

 private:
  const std::string header_;
  const ScenarioMap scenario_;
  const size_t scenario_column_;
  std::shared_ptr<const std::vector<Column>> columns_;
};

}  // namespace

StatusOr<std::unique_ptr<Reader>> OpenAvazuReader(std::vector<std::string> files,
                                                  const ReaderOptions& options,
                                                  const ScenarioMap& scenario) {
  RETURN_IF_ERROR(LineReader::ValidateOptions(files, options));
  ASSIGN_OR_RETURN(std::unique_ptr<LineFile> first, LineFile::Open(files[0]));
  std::string_view line;
  ASSIGN_OR_RETURN(bool got, first->Next(&line));
  if (!got || line.empty()) {
    return InvalidArgument(files[0] + ": empty file, expected an Avazu header (id,click,hour,...)");
  }
  if (line.find(',') == std::string_view::npos || line.find_first_of("0123456789") == 0) {
    return InvalidArgument(files[0] +
                           ":1: expected an Avazu CSV header (id,click,hour,...), got '" +
                           std::string(line.substr(0, 200)) + "'");
  }
  size_t scenario_column = 0;
  if (scenario.enabled()) {
    std::vector<std::string_view> names;
    SplitFields(line, ',', &names);
    auto it = std::find(names.begin(), names.end(), scenario.column());
    if (it == names.end() || scenario.column() == "click") {
      return InvalidArgument("data.scenario_from: column '" + scenario.column() + "' is not in " +
                             files[0] + "'s header (or is the label)");
    }
    scenario_column = static_cast<size_t>(it - names.begin());
  }
  return std::unique_ptr<Reader>(
      new AvazuReader(std::move(files), options, std::string(line), scenario, scenario_column));
}

}  // namespace metaps
