// Reader: streams examples from text files into Batches.
//
// Sharding: a reader opened with (worker_index, num_workers) owns data line i
// iff i % num_workers == worker_index, where i counts the physical lines of all
// its files in list order, 0-based, header lines excluded (empty lines count).
// Every worker opens the same file list, so each line is read by exactly one
// worker; non-owned lines are skipped without being parsed.
//
// Malformed lines: each one is counted, and the first kMaxLoggedBadLines are
// logged at WARNING as "file:line: reason". When bad_lines / lines exceeds
// max_bad_fraction, once lines >= min_lines_for_bad_check or at the end of a
// file, Next() returns InvalidArgument naming the file and the counts, and keeps
// returning it. Empty (or all-blank) lines are skipped and are not bad.
//
// A Reader is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "worker/batch.h"
#include "worker/data/line_file.h"

namespace metaps {

struct ReaderOptions {
  size_t batch_size = 1024;
  int worker_index = 0;
  int num_workers = 1;
  double max_bad_fraction = 0.001;
  size_t min_lines_for_bad_check = 1000;
  size_t read_buffer_bytes = 1 << 20;
};

// Counts for the lines this shard owns (header lines excluded).
struct ReaderStats {
  size_t lines = 0;        // owned non-empty lines
  size_t examples = 0;     // lines parsed into examples
  size_t bad_lines = 0;    // malformed owned lines (skipped)
  size_t empty_lines = 0;  // owned blank lines (skipped)
  size_t bytes = 0;        // bytes read from all files, owned or not
};

class Reader {
 public:
  virtual ~Reader() = default;
  // Clears *batch and fills it with up to batch_size examples; an empty batch
  // means the input is exhausted. On error the batch is empty, and the same
  // error is returned by every later call.
  virtual Status Next(Batch* batch) = 0;
  virtual const BatchSchema& schema() const = 0;
  virtual const ReaderStats& stats() const = 0;
};

// Base for line-oriented formats: file iteration, sharding, bad-line policy.
class LineReader : public Reader {
 public:
  static constexpr size_t kMaxLoggedBadLines = 10;

  Status Next(Batch* batch) override;
  const BatchSchema& schema() const override { return schema_; }
  const ReaderStats& stats() const override { return stats_; }

  // InvalidArgument for an empty file list or a bad shard; factories call it.
  static Status ValidateOptions(const std::vector<std::string>& files,
                                const ReaderOptions& options);

 protected:
  LineReader(std::vector<std::string> files, const ReaderOptions& options);

  // Appends one example for `line` (never empty) to `batch`, or returns false
  // with `*reason` set; the base then drops whatever was partly added.
  virtual bool ParseLine(std::string_view line, Batch* batch, std::string* reason) = 0;
  // Called with the first line of every file: true if it is a header to skip.
  // May return an error (e.g. a header that does not match the schema).
  virtual StatusOr<bool> IsHeader(std::string_view /*first_line*/, const std::string& /*path*/) {
    return false;
  }
  // Called after opening each file, before any line is read.
  virtual void OnFileOpened(const std::string& /*path*/) {}

  BatchSchema schema_;  // set by the subclass's constructor

 private:
  // Opens files_[next_file_]; false when there are no more files.
  StatusOr<bool> OpenNextFile();
  // Next() without the sticky-error bookkeeping.
  Status Fill(Batch* batch);
  void RecordBadLine(const std::string& reason);
  Status CheckBadFraction(bool at_end_of_file) const;

  const std::vector<std::string> files_;
  const ReaderOptions options_;
  size_t next_file_ = 0;
  std::unique_ptr<LineFile> file_;
  bool first_line_of_file_ = false;
  size_t line_index_ = 0;  // global data-line counter, for sharding
  size_t bytes_of_closed_files_ = 0;
  ReaderStats stats_;
  std::string first_bad_line_;
  std::string reason_;  // scratch
  Status error_;
};

}  // namespace metaps
