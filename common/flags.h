// Command-line flags of a subcommand, parsed by CLI11: `--name=value`,
// `--name value`, and `--flag` / `--no-flag` / `--flag=false` for booleans.
// Unknown flags, stray positional arguments and bad values are errors that
// name the subcommand and the flag; `--help` prints the usage CLI11
// generates from the registered flags (with their defaults).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace metaps {

class FlagSet {
 public:
  explicit FlagSet(std::string command);
  ~FlagSet();
  FlagSet(const FlagSet&) = delete;
  FlagSet& operator=(const FlagSet&) = delete;

  // Registers a flag bound to `target`, whose current value is the default.
  void String(const std::string& name, std::string* target, const std::string& help);
  // An integer flag; a value outside [min, max] is an error naming the range,
  // so callers may narrow it to int without checking again.
  void Int(const std::string& name, int64_t* target, const std::string& help,
           int64_t min = INT64_MIN, int64_t max = INT64_MAX);
  // A number flag; a value outside [min, max] (or not finite) is an error naming the range.
  void Double(const std::string& name, double* target, const std::string& help, double min = -1e300,
              double max = 1e300);
  void Bool(const std::string& name, bool* target, const std::string& help);
  // A flag that may repeat; each occurrence appends its value.
  void StringList(const std::string& name, std::vector<std::string>* target,
                  const std::string& help);

  // Parses argv[begin..]; positional arguments are an error. Returns
  // NotFound("help") when --help was given (the caller prints Usage()).
  Status Parse(int argc, char** argv, int begin);
  std::string Usage() const;
  bool WasSet(const std::string& name) const;

 private:
  std::string command_;
  std::unique_ptr<CLI::App> app_;
  std::map<std::string, CLI::Option*> options_;
};

}  // namespace metaps
