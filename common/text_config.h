// What every protobuf-text config of metaps shares (jobs, retraining
// pipelines): parsing with errors at file:line:column, `--set path=value`
// overrides, and a checker whose errors name the field and where it was set.
#pragma once

#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace metaps {

// Parses `text` into *msg (cleared first), recording where each field was
// written in *tree. Unknown fields and syntax errors are InvalidArgument
// "source:line:column: message".
Status ParseTextConfig(const std::string& text, const std::string& source,
                       google::protobuf::Message* msg,
                       google::protobuf::TextFormat::ParseInfoTree* tree);

// "a.b.c=value": sets field c of message b of message a. A repeated field
// takes a comma-separated list, replacing what the file gave.
Status ApplyOverride(const std::string& override_text, google::protobuf::Message* msg);

// Collects validation errors; each names the field path and where its value
// came from: "file:line:column", "--set path=value" or "file (default value)".
class ConfigChecker {
 public:
  // `tree` from ParseTextConfig for a message of type `root`; `overridden`
  // maps a path to the --set text that gave it.
  ConfigChecker(std::string source, const google::protobuf::Descriptor* root,
                const google::protobuf::TextFormat::ParseInfoTree* tree,
                std::map<std::string, std::string> overridden)
      : source_(std::move(source)), root_(root), tree_(tree), overridden_(std::move(overridden)) {}

  void Require(bool ok, const std::string& path, const std::string& problem) {
    if (!ok) errors_.push_back(Where(path) + ": " + path + ": " + problem);
  }
  void OneOf(const std::string& value, const std::set<std::string>& allowed,
             const std::string& path);
  // InvalidArgument with every error, one per line; OK when there is none.
  Status status() const;

 private:
  std::string Where(const std::string& path) const;

  std::string source_;
  const google::protobuf::Descriptor* root_;
  const google::protobuf::TextFormat::ParseInfoTree* tree_;
  std::map<std::string, std::string> overridden_;
  std::vector<std::string> errors_;
};

// "a.b.c" -> {"a", "b", "c"} (a field path or a --set list value).
std::vector<std::string> SplitConfigText(const std::string& text, char sep);

// Reads a whole file; NotFound naming it (and `what` it should be) if it cannot be opened.
StatusOr<std::string> ReadConfigFile(const std::string& path, const std::string& what);

}  // namespace metaps
