#include "common/flags.h"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace metaps {
namespace {

// Checks run on the text before CLI11 converts it, so that the messages
// keep the project's wording ("--dim must be in [1, 65536], got 0").
std::string IntRange(int64_t min, int64_t max) {
  if (min == INT64_MIN && max == INT64_MAX) return "";
  if (max == INT64_MAX) return ">= " + std::to_string(min);
  return "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
}

std::string DoubleRange(double min, double max) {
  if (min == -1e300 && max == 1e300) return "";
  std::ostringstream text;
  if (max == 1e300) {
    text << ">= " << min;
  } else {
    text << "[" << min << ", " << max << "]";
  }
  return text.str();
}

CLI::Validator IntCheck(int64_t min, int64_t max) {
  const std::string range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
  return CLI::Validator(
      [min, max, range](std::string& value) -> std::string {
        errno = 0;
        char* end = nullptr;
        const long long v = std::strtoll(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0' || errno == ERANGE) {
          return "expects an integer, got '" + value + "'";
        }
        if (v < min || v > max) return "must be in " + range + ", got " + value;
        return "";
      },
      "");
}

CLI::Validator DoubleCheck(double min, double max) {
  std::ostringstream text;
  text << "[" << min << ", " << max << "]";
  const std::string range = text.str();
  return CLI::Validator(
      [min, max, range](std::string& value) -> std::string {
        errno = 0;
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        if (value.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v)) {
          return "expects a number, got '" + value + "'";
        }
        if (v < min || v > max) return "must be in " + range + ", got " + value;
        return "";
      },
      "");
}

// --flag=VALUE of a boolean: the values the old parser took, in its words.
CLI::Validator BoolCheck() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (value == "true" || value == "false" || value == "1" || value == "0") return "";
        return "expects true or false, got '" + value + "'";
      },
      "");
}

// CLI11's help, with "--curve, --no-curve" for "--curve,--no-curve{false}".
class Formatter : public CLI::Formatter {
 public:
  std::string make_option_name(const CLI::Option* opt, bool positional) const override {
    std::string name = CLI::Formatter::make_option_name(opt, positional), out;
    bool skip = false;
    for (char c : name) {
      if (c == '{') skip = true;
      if (!skip) out += c;
      if (c == ',') out += ' ';
      if (c == '}') skip = false;
    }
    return out;
  }
  // Wrapped to fit 80 columns (CLI11 indents each new line to the column).
  std::string make_option_desc(const CLI::Option* opt) const override {
    std::istringstream words(CLI::Formatter::make_option_desc(opt));
    std::string out, line, word;
    while (words >> word) {
      if (!line.empty() && line.size() + 1 + word.size() > kDescWidth) {
        out += line + "\n";
        line.clear();
      }
      line += (line.empty() ? "" : " ") + word;
    }
    return out + line;
  }
  static constexpr size_t kDescWidth = 80 - 32;
};

// The help line of a flag: its text, its default and its range.
std::string Describe(const std::string& help, const std::string& default_text,
                     const std::string& range = "") {
  std::string out = help;
  if (!default_text.empty() || !range.empty()) {
    out += " (";
    if (!default_text.empty()) out += "default: " + default_text;
    if (!default_text.empty() && !range.empty()) out += "; ";
    if (!range.empty()) out += "range " + range;
    out += ")";
  }
  return out;
}

// CLI11 writes "--dim: must be ..."; the project writes "--dim must be ...".
std::string Tidy(std::string message) {
  if (message.rfind("--", 0) == 0) {
    const size_t colon = message.find(": ");
    if (colon != std::string::npos && message.find(' ') > colon) message.erase(colon, 1);
  }
  return message;
}

}  // namespace

FlagSet::FlagSet(std::string command)
    : command_(std::move(command)),
      app_(std::make_unique<CLI::App>("Flags of 'metaps " + command_ + "'", "metaps " + command_)) {
  // A flag given twice: the last one counts (lists take every occurrence).
  app_->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  // Leftovers are reported by Parse, in the project's words.
  app_->allow_extras();
  app_->formatter(std::make_shared<Formatter>());
  app_->get_formatter()->column_width(32);
}

FlagSet::~FlagSet() = default;

void FlagSet::String(const std::string& name, std::string* target, const std::string& help) {
  options_[name] =
      app_->add_option("--" + name, *target, Describe(help, *target))->option_text("TEXT");
}

void FlagSet::Int(const std::string& name, int64_t* target, const std::string& help, int64_t min,
                  int64_t max) {
  options_[name] = app_->add_option("--" + name, *target,
                                    Describe(help, std::to_string(*target), IntRange(min, max)))
                       ->option_text("INT")
                       ->check(IntCheck(min, max));
}

void FlagSet::Double(const std::string& name, double* target, const std::string& help, double min,
                     double max) {
  std::ostringstream value;
  value << *target;
  options_[name] =
      app_->add_option("--" + name, *target, Describe(help, value.str(), DoubleRange(min, max)))
          ->option_text("NUMBER")
          ->check(DoubleCheck(min, max));
}

void FlagSet::StringList(const std::string& name, std::vector<std::string>* target,
                         const std::string& help) {
  options_[name] = app_->add_option("--" + name, *target, help)
                       ->option_text("TEXT ...")
                       ->allow_extra_args(false)
                       ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void FlagSet::Bool(const std::string& name, bool* target, const std::string& help) {
  options_[name] = app_->add_flag("--" + name + ",!--no-" + name, *target,
                                  Describe(help, *target ? "on" : "off"))
                       ->check(BoolCheck());
}

bool FlagSet::WasSet(const std::string& name) const {
  auto it = options_.find(name);
  return it != options_.end() && it->second->count() > 0;
}

Status FlagSet::Parse(int argc, char** argv, int begin) {
  // CLI11 parses a reversed argument vector, without the program name.
  std::vector<std::string> args;
  for (int i = argc - 1; i >= begin; --i) args.emplace_back(argv[i]);
  const std::string prefix = "metaps " + command_ + ": ";
  // CLI11 reports by exception; they end here, as a Status.
  try {
    app_->parse(args);
  } catch (const CLI::CallForHelp&) {
    return NotFound("help");
  } catch (const CLI::ArgumentMismatch& e) {
    std::string name = e.what();
    name = name.substr(0, name.find(':'));
    return InvalidArgument(prefix + name + " needs a value");
  } catch (const CLI::ParseError& e) {
    return InvalidArgument(prefix + Tidy(e.what()));
  } catch (const std::exception& e) {
    return InvalidArgument(prefix + e.what());
  }
  for (const std::string& arg : app_->remaining()) {
    if (arg == "--") continue;  // CLI11's end-of-flags marker
    if (arg.rfind("-", 0) == 0) {
      return InvalidArgument(prefix + "unknown flag " + arg.substr(0, arg.find('=')) +
                             " (see --help)");
    }
    return InvalidArgument(prefix + "unexpected argument '" + arg +
                           "' (flags start with --; see --help)");
  }
  return Status::Ok();
}

std::string FlagSet::Usage() const { return app_->help(); }

}  // namespace metaps
