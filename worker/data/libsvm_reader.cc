#include "worker/data/libsvm_reader.h"

#include "worker/data/feature_hash.h"
#include "worker/data/text_fields.h"

namespace metaps {
namespace {

class LibsvmParser : public LineParser {
 public:
  explicit LibsvmParser(const LibsvmOptions& format) : format_(format) {}

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
          return Bad(token, "field is not below num_fields " + std::to_string(format_.num_fields),
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
    } else {
      schema_.slots.push_back({"features", /*has_values=*/true});
    }
  }

 protected:
  std::unique_ptr<LineParser> NewParser() const override {
    return std::make_unique<LibsvmParser>(format_);
  }

 private:
  const LibsvmOptions format_;
};

}  // namespace

StatusOr<std::unique_ptr<Reader>> OpenLibsvmReader(std::vector<std::string> files,
                                                   const LibsvmOptions& format,
                                                   const ReaderOptions& options) {
  RETURN_IF_ERROR(LineReader::ValidateOptions(files, options));
  if (format.ffm && format.num_fields <= 0) {
    return InvalidArgument("FFM reader needs num_fields > 0, got " +
                           std::to_string(format.num_fields));
  }
  return std::unique_ptr<Reader>(new LibsvmReader(std::move(files), format, options));
}

}  // namespace metaps
