#include "common/text_config.h"

#include <google/protobuf/io/tokenizer.h>

#include <fstream>
#include <sstream>

namespace metaps {
namespace {

namespace pb = google::protobuf;

class Collector : public pb::io::ErrorCollector {
 public:
  explicit Collector(std::string source) : source_(std::move(source)) {}
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (!first_.empty()) return;
    first_ = source_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " +
             message;
  }
  const std::string& first() const { return first_; }

 private:
  std::string source_;
  std::string first_;
};

}  // namespace

std::vector<std::string> SplitConfigText(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, sep)) parts.push_back(part);
  return parts;
}

Status ParseTextConfig(const std::string& text, const std::string& source, pb::Message* msg,
                       pb::TextFormat::ParseInfoTree* tree) {
  msg->Clear();
  pb::TextFormat::Parser parser;
  Collector errors(source);
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(tree);
  if (!parser.ParseFromString(text, msg)) {
    return InvalidArgument(errors.first().empty() ? source + ": cannot parse" : errors.first());
  }
  return Status::Ok();
}

Status ApplyOverride(const std::string& override_text, pb::Message* root) {
  const size_t eq = override_text.find('=');
  if (eq == std::string::npos) {
    return InvalidArgument("--set " + override_text + ": expected path.to.field=value");
  }
  const std::vector<std::string> path = SplitConfigText(override_text.substr(0, eq), '.');
  const std::string value = override_text.substr(eq + 1);
  pb::Message* msg = root;
  for (size_t i = 0; i < path.size(); ++i) {
    const pb::FieldDescriptor* field = msg->GetDescriptor()->FindFieldByName(path[i]);
    if (field == nullptr) {
      return InvalidArgument("--set " + override_text + ": " + msg->GetDescriptor()->full_name() +
                             " has no field '" + path[i] + "'");
    }
    const pb::Reflection* reflection = msg->GetReflection();
    if (i + 1 < path.size()) {
      if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE || field->is_repeated()) {
        return InvalidArgument("--set " + override_text + ": '" + path[i] + "' is not a message");
      }
      msg = reflection->MutableMessage(msg, field);
      continue;
    }
    if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      return InvalidArgument("--set " + override_text + ": '" + path[i] +
                             "' is a message, not a value");
    }
    const std::vector<std::string> values =
        field->is_repeated() ? SplitConfigText(value, ',') : std::vector<std::string>{value};
    if (field->is_repeated()) reflection->ClearField(msg, field);
    for (const std::string& v : values) {
      // Text format needs strings quoted; accept them bare on the command line.
      const std::string literal =
          field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING ? "\"" + v + "\"" : v;
      pb::TextFormat::Parser parser;
      Collector quiet("--set");
      parser.RecordErrorsTo(&quiet);
      if (!parser.ParseFieldValueFromString(literal, field, msg)) {
        return InvalidArgument("--set " + override_text + ": '" + v + "' is not a valid " +
                               field->type_name() + " for " + field->full_name());
      }
    }
    return Status::Ok();
  }
  return InvalidArgument("--set " + override_text + ": empty path");
}

void ConfigChecker::OneOf(const std::string& value, const std::set<std::string>& allowed,
                          const std::string& path) {
  if (allowed.count(value)) return;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  Require(false, path, "'" + value + "' is not one of " + list);
}

Status ConfigChecker::status() const {
  if (errors_.empty()) return Status::Ok();
  std::string all;
  for (const auto& e : errors_) all += (all.empty() ? "" : "\n") + e;
  return InvalidArgument(all);
}

std::string ConfigChecker::Where(const std::string& path) const {
  auto it = overridden_.find(path);
  if (it != overridden_.end()) return "--set " + it->second;
  const pb::Descriptor* desc = root_;
  const pb::TextFormat::ParseInfoTree* tree = tree_;
  const std::vector<std::string> parts = SplitConfigText(path, '.');
  for (size_t i = 0; i < parts.size() && tree != nullptr && desc != nullptr; ++i) {
    const pb::FieldDescriptor* field = desc->FindFieldByName(parts[i]);
    if (field == nullptr) break;
    const int index = field->is_repeated() ? 0 : -1;
    if (i + 1 == parts.size()) {
      auto loc = tree->GetLocation(field, index);
      if (loc.line < 0) break;
      return source_ + ":" + std::to_string(loc.line + 1) + ":" + std::to_string(loc.column + 1);
    }
    tree = tree->GetTreeForNested(field, index);
    desc = field->message_type();
  }
  return source_ + " (default value)";
}

StatusOr<std::string> ReadConfigFile(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) return NotFound(path + ": cannot open the " + what);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace metaps
