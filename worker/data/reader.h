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
// Parallel parsing: with threads > 1 a LineReader cuts its shard into chunks of
// whole lines on the calling thread and parses them on `threads` threads of its
// own, at most 2 * threads chunks ahead. Batches, stats at the end of the input,
// logged bad lines and errors are exactly those of threads = 1.
//
// A Reader is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
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
  // Line-parsing threads of a LineReader; 1: the thread calling Next parses.
  int threads = 1;
  // Above 0: an example whose scenario id is not below this is an error naming
  // file:line (model.num_scenarios), and stats count examples per scenario.
  uint32_t num_scenarios = 0;
};

// Counts for the lines this shard owns (header lines excluded). With parsing
// threads, exact at batch boundaries for lines, examples and bad_lines, and for
// all of them once the input is exhausted.
struct ReaderStats {
  size_t lines = 0;        // owned non-empty lines
  size_t examples = 0;     // lines parsed into examples
  size_t bad_lines = 0;    // malformed owned lines (skipped)
  size_t empty_lines = 0;  // owned blank lines (skipped)
  size_t bytes = 0;        // bytes read from all files, owned or not
  // With ReaderOptions::num_scenarios: examples per scenario id (that many entries).
  std::vector<size_t> scenario_examples;
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

// Appends every remaining example of `reader` to *out, which has the
// reader's shape (Batch::Reset with its schema): a whole input in memory
// (meta-learning's tasks, adapt's support file).
Status AppendAll(Reader* reader, Batch* out);

// Turns lines of one format into examples. A LineReader parses on several
// threads with a parser per thread, so a parser may keep scratch buffers but
// must own, or share read-only, everything else: it must not refer to its
// reader (parsing threads are stopped only after a subclass's destructor ran).
class LineParser {
 public:
  virtual ~LineParser() = default;
  // Called with a file's first line (its header, if it has one) before lines of
  // that file are parsed, and again whenever the parser moves to another file.
  virtual void BeginFile(std::string_view /*first_line*/) {}
  // Appends one example for `line` (never blank) to `batch`, or returns false
  // with `*reason` set; the caller then drops whatever was partly added.
  virtual bool ParseLine(std::string_view line, Batch* batch, std::string* reason) = 0;
};

class ParsePool;
struct LineChunk;

// Base for line-oriented formats: file iteration, sharding, bad-line policy,
// parallel parsing.
class LineReader : public Reader {
 public:
  static constexpr size_t kMaxLoggedBadLines = 10;
  // Lines per chunk: a batch, or whole batches adding up to at least this many.
  static constexpr size_t kMinChunkLines = 256;
  // A chunk also ends once it holds this many bytes of text.
  static constexpr size_t kMaxChunkBytes = 4 << 20;

  ~LineReader() override;

  Status Next(Batch* batch) override;
  const BatchSchema& schema() const override { return schema_; }
  const ReaderStats& stats() const override { return stats_; }

  // InvalidArgument for an empty file list or a bad shard; factories call it.
  static Status ValidateOptions(const std::vector<std::string>& files,
                                const ReaderOptions& options);

 protected:
  LineReader(std::vector<std::string> files, const ReaderOptions& options);

  // A parser for this format; called by Next, once per parsing thread.
  virtual std::unique_ptr<LineParser> NewParser() const = 0;
  // Called with the first line of every file: true if it is a header to skip.
  // May return an error (e.g. a header that does not match the schema). With
  // parsing threads it runs ahead of the batches returned.
  virtual StatusOr<bool> IsHeader(std::string_view /*first_line*/,
                                  const std::string& /*path*/) const {
    return false;
  }

  BatchSchema schema_;  // set by the subclass's constructor

 private:
  enum class LineEvent { kLine, kEndOfFile, kEndOfInput };

  // The next line of this shard to parse: opens the files in turn, skips
  // headers and other shards' lines, counts blank lines into *blank_lines.
  // kEndOfFile comes after a file's last line, with the file closed.
  StatusOr<LineEvent> NextOwnedLine(std::string_view* line, size_t* blank_lines);
  // Opens files_[next_file_]; false when there are no more files.
  StatusOr<bool> OpenNextFile();
  // The file being read, or the one that ended last.
  size_t file_index() const { return next_file_ == 0 ? 0 : next_file_ - 1; }
  size_t bytes_read() const;
  // Next() without the sticky-error bookkeeping, on one thread or several.
  Status Fill(Batch* batch);
  Status FillParallel(Batch* batch);
  // Cuts and submits chunks until 2 * threads are in flight or the input ends.
  void CutChunks();
  void CutChunk(LineChunk* chunk);
  // Accounts for the front chunk's lines in order and moves their examples to
  // `batch` until it is full; *done once the chunk is used up.
  Status TakeFromChunk(LineChunk* chunk, Batch* batch, bool* done);
  void RecordBadLine(const std::string& path, size_t line_number, const std::string& reason);
  Status CheckBadFraction(const std::string& path, bool at_end_of_file) const;
  // With options_.num_scenarios: an error for an id not below it, else counts it.
  Status CheckScenario(uint32_t scenario, const std::string& path, size_t line_number);

  const std::vector<std::string> files_;
  const ReaderOptions options_;
  size_t next_file_ = 0;
  std::unique_ptr<LineFile> file_;
  bool first_line_of_file_ = false;
  std::shared_ptr<const std::string> first_line_;  // of the file being read
  size_t line_index_ = 0;                          // global data-line counter, for sharding
  size_t bytes_of_closed_files_ = 0;
  ReaderStats stats_;
  std::string first_bad_line_;
  Status error_;

  // One thread: the parser, and the file it has begun.
  std::unique_ptr<LineParser> parser_;
  size_t parser_file_ = 0;
  bool parser_begun_ = false;
  std::string reason_;  // scratch

  // Several threads: chunks in submission order; the front one is being taken
  // from, at line taken_lines_ of which taken_bad_ were malformed.
  std::deque<std::unique_ptr<LineChunk>> in_flight_;
  std::vector<std::unique_ptr<LineChunk>> spare_chunks_;
  size_t taken_lines_ = 0;
  size_t taken_bad_ = 0;
  bool cut_all_ = false;  // the input (or an error) is in the chunks cut
  size_t chunk_lines_ = 0;
  std::unique_ptr<ParsePool> pool_;  // last: stopped before the chunks go
};

}  // namespace metaps
