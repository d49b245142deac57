// Logging to stderr with a level and a role prefix ("[server 1]").
//
// The prefix is per thread so that a single-process cluster, whose roles are
// threads, still tells who is speaking. The level is process-wide and set once
// from the command line (the one piece of global state; see ARCHITECTURE.md).
//
//   METAPS_LOG(INFO) << "bound " << endpoint;
//   METAPS_CHECK(n > 0) << "our own invariant, never a peer's input";
#pragma once

#include <sstream>
#include <string>

namespace metaps {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kFatal = 4 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug", "info", "warning", "error"; returns false on anything else.
bool ParseLogLevel(const std::string& text, LogLevel* level);

// Sets this thread's prefix for as long as the object lives.
class ScopedLogPrefix {
 public:
  explicit ScopedLogPrefix(std::string prefix);
  ~ScopedLogPrefix();
  ScopedLogPrefix(const ScopedLogPrefix&) = delete;
  ScopedLogPrefix& operator=(const ScopedLogPrefix&) = delete;

 private:
  std::string saved_;
};
const std::string& CurrentLogPrefix();

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();  // Writes the line; aborts for kFatal.
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

// Swallows the stream when the level is filtered out.
struct LogVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace metaps

#define METAPS_LOG_LEVEL_DEBUG ::metaps::LogLevel::kDebug
#define METAPS_LOG_LEVEL_INFO ::metaps::LogLevel::kInfo
#define METAPS_LOG_LEVEL_WARNING ::metaps::LogLevel::kWarning
#define METAPS_LOG_LEVEL_ERROR ::metaps::LogLevel::kError
#define METAPS_LOG_LEVEL_FATAL ::metaps::LogLevel::kFatal

#define METAPS_LOG(level)                              \
  (METAPS_LOG_LEVEL_##level < ::metaps::GetLogLevel()) \
      ? (void)0                                        \
      : ::metaps::LogVoidify() &                       \
            ::metaps::LogMessage(METAPS_LOG_LEVEL_##level, __FILE__, __LINE__).stream()

// For broken invariants of our own code only: aborts with the condition.
#define METAPS_CHECK(cond)                                                                   \
  (cond) ? (void)0                                                                           \
         : ::metaps::LogVoidify() &                                                          \
               ::metaps::LogMessage(::metaps::LogLevel::kFatal, __FILE__, __LINE__).stream() \
                   << "check failed: " #cond " "
