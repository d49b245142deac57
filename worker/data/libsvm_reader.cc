#include "worker/data/libsvm_reader.h"

#include <algorithm>
#include <map>

#include "worker/data/feature_hash.h"
#include "worker/data/text_fields.h"

namespace metaps {
namespace {

constexpr int kMaxFfmFields = 100000;

// Field ranges sorted by first index, each with its slot.
struct FieldRanges {
  std::vector<uint64_t> firsts, lasts;
  std::vector<uint32_t> slots;
  // The slot of `index`, or -1 if no range holds it.
  int64_t SlotOf(uint64_t index) const {
    const size_t r = std::upper_bound(firsts.begin(), firsts.end(), index) - firsts.begin();
    if (r == 0 || index > lasts[r - 1]) return -1;
    return slots[r - 1];
  }
};

class LibsvmParser : public LineParser {
 public:
  LibsvmParser(const LibsvmOptions& format, std::shared_ptr<const FieldRanges> ranges)
      : format_(format), ranges_(std::move(ranges)) {}

  bool ParseLine(std::string_view line, Batch* batch, std::string* reason) override {
    SplitWhitespace(line, &tokens_);
    float label;
    if (!ParseFloat(tokens_[0], &label)) {
      *reason = "label '" + std::string(tokens_[0]) + "' is not a number";
      return false;
    }
    if (format_.binary_label) label = label > 0 ? 1.0f : 0.0f;
    uint64_t qid = 0;
    for (size_t t = 1; t < tokens_.size(); ++t) {
      const std::string_view token = tokens_[t];
      if (token[0] == '#') break;  // trailing comment
      if (t == 1 && token.substr(0, 4) == "qid:") {
        if (!ParseUint64(token.substr(4), &qid)) return Bad(token, "qid is not an integer", reason);
        continue;
      }
      uint64_t field = 0;
      std::string_view rest = token;
      if (format_.ffm) {
        const size_t colon = rest.find(':');
        if (colon == std::string_view::npos || !ParseUint64(rest.substr(0, colon), &field)) {
          return Bad(token, "expected field:index:value", reason);
        }
        if (field >= static_cast<uint64_t>(format_.num_fields)) {
          return Bad(token,
                     "field is not below num_fields " + std::to_string(format_.num_fields) +
                         " (data.num_fields, or inferred from data.train)",
                     reason);
        }
        rest.remove_prefix(colon + 1);
      }
      const size_t colon = rest.find(':');
      uint64_t index;
      float value;
      if (colon == std::string_view::npos || !ParseUint64(rest.substr(0, colon), &index) ||
          !ParseFloat(rest.substr(colon + 1), &value)) {
        return Bad(token, format_.ffm ? "expected field:index:value" : "expected index:value",
                   reason);
      }
      if (ranges_ != nullptr) {
        const int64_t slot = ranges_->SlotOf(index);
        if (slot < 0) {
          return Bad(token,
                     "feature index " + std::to_string(index) +
                         " is in no field (data.fields / data.field_map)",
                     reason);
        }
        field = static_cast<uint64_t>(slot);
      }
      const uint32_t slot = static_cast<uint32_t>(field);
      batch->AddKeyValue(slot, format_.raw_keys ? index : HashId(slot, index), value);
    }
    batch->FinishExample(label, /*scenario_id=*/0, /*user_id=*/qid);
    return true;
  }

 private:
  static bool Bad(std::string_view token, const std::string& what, std::string* reason) {
    *reason = "token '" + std::string(token.substr(0, 64)) + "': " + what;
    return false;
  }

  const LibsvmOptions format_;
  const std::shared_ptr<const FieldRanges> ranges_;  // null: one slot
  std::vector<std::string_view> tokens_;
};

class LibsvmReader : public LineReader {
 public:
  LibsvmReader(std::vector<std::string> files, const LibsvmOptions& format,
               const ReaderOptions& options)
      : LineReader(std::move(files), options), format_(format) {
    if (format_.ffm) {
      for (int f = 0; f < format_.num_fields; ++f) {
        schema_.slots.push_back({"field" + std::to_string(f), /*has_values=*/true});
      }
    } else if (format_.fields.empty()) {
      schema_.slots.push_back({"features", /*has_values=*/true});
    } else {
      std::vector<LibsvmField> sorted = format_.fields;
      std::sort(sorted.begin(), sorted.end(),
                [](const LibsvmField& a, const LibsvmField& b) { return a.first < b.first; });
      auto ranges = std::make_shared<FieldRanges>();
      std::map<std::string, uint32_t> slot_of;
      for (const LibsvmField& f : sorted) {
        auto it = slot_of.emplace(f.name, static_cast<uint32_t>(schema_.slots.size())).first;
        if (it->second == schema_.slots.size()) schema_.slots.push_back({f.name, true});
        ranges->firsts.push_back(f.first);
        ranges->lasts.push_back(f.last);
        ranges->slots.push_back(it->second);
      }
      ranges_ = std::move(ranges);
    }
  }

 protected:
  std::unique_ptr<LineParser> NewParser() const override {
    return std::make_unique<LibsvmParser>(format_, ranges_);
  }

 private:
  const LibsvmOptions format_;
  std::shared_ptr<const FieldRanges> ranges_;
};

}  // namespace

StatusOr<std::unique_ptr<Reader>> OpenLibsvmReader(std::vector<std::string> files,
                                                   const LibsvmOptions& format,
                                                   const ReaderOptions& options) {
  RETURN_IF_ERROR(LineReader::ValidateOptions(files, options));
  if (format.ffm && (format.num_fields <= 0 || format.num_fields > kMaxFfmFields)) {
    return InvalidArgument("FFM reader needs num_fields in [1, " + std::to_string(kMaxFfmFields) +
                           "], got " + std::to_string(format.num_fields));
  }
  if (format.ffm && !format.fields.empty()) {
    return InvalidArgument("FFM data carries its own fields; libsvm field ranges do not apply");
  }
  std::vector<LibsvmField> sorted = format.fields;
  std::sort(sorted.begin(), sorted.end(),
            [](const LibsvmField& a, const LibsvmField& b) { return a.first < b.first; });
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i].name.empty() || sorted[i].first > sorted[i].last) {
      return InvalidArgument("libsvm field '" + sorted[i].name + "' [" +
                             std::to_string(sorted[i].first) + ", " +
                             std::to_string(sorted[i].last) + "] has no name or no indices");
    }
    if (i > 0 && sorted[i].first <= sorted[i - 1].last) {
      return InvalidArgument("libsvm fields '" + sorted[i - 1].name + "' and '" + sorted[i].name +
                             "' overlap at index " + std::to_string(sorted[i].first));
    }
  }
  return std::unique_ptr<Reader>(new LibsvmReader(std::move(files), format, options));
}

StatusOr<std::vector<LibsvmField>> LoadLibsvmFieldMap(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<LineFile> file, LineFile::Open(path));
  std::vector<LibsvmField> fields;
  std::string_view line;
  for (uint64_t index = 0;; ++index) {
    ASSIGN_OR_RETURN(bool got, file->Next(&line));
    if (!got) break;
    const std::string_view name = TrimSpaces(line);
    if (name.empty() || name.find_first_of(" \t") != std::string_view::npos) {
      return InvalidArgument(path + ":" + std::to_string(file->line_number()) +
                             ": expected one field name for feature index " +
                             std::to_string(index) + ", got '" + std::string(line.substr(0, 64)) +
                             "'");
    }
    if (!fields.empty() && fields.back().name == name && fields.back().last + 1 == index) {
      fields.back().last = index;
    } else {
      fields.push_back({std::string(name), index, index});
    }
  }
  if (fields.empty()) return InvalidArgument(path + ": empty field map (one line per feature)");
  return fields;
}

StatusOr<int> InferFfmNumFields(const std::vector<std::string>& files) {
  int64_t max_field = -1;
  std::vector<std::string_view> tokens;
  for (const std::string& path : files) {
    ASSIGN_OR_RETURN(std::unique_ptr<LineFile> file, LineFile::Open(path));
    std::string_view line;
    for (;;) {
      ASSIGN_OR_RETURN(bool got, file->Next(&line));
      if (!got) break;
      SplitWhitespace(line, &tokens);
      for (size_t t = 1; t < tokens.size(); ++t) {
        if (tokens[t][0] == '#') break;
        const size_t colon = tokens[t].find(':');
        uint64_t field;
        if (colon == std::string_view::npos ||
            tokens[t].find(':', colon + 1) == std::string_view::npos ||
            !ParseUint64(tokens[t].substr(0, colon), &field)) {
          continue;
        }
        if (field >= static_cast<uint64_t>(kMaxFfmFields)) {
          return InvalidArgument(path + ":" + std::to_string(file->line_number()) + ": field " +
                                 std::to_string(field) + " is not below " +
                                 std::to_string(kMaxFfmFields) +
                                 " (the most data.num_fields may infer)");
        }
        max_field = std::max<int64_t>(max_field, static_cast<int64_t>(field));
      }
    }
  }
  if (max_field < 0) {
    std::string names;
    for (const std::string& f : files) names += (names.empty() ? "" : ", ") + f;
    return InvalidArgument("data.train (" + names +
                           "): no field:index:value token to infer data.num_fields from; set it");
  }
  return static_cast<int>(max_field + 1);
}

}  // namespace metaps
