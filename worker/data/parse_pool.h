// Parallel line parsing for LineReader (internal to reader.cc).
//
// The reader's own thread cuts its shard into LineChunks (runs of whole lines of
// one file, copied out of the read buffer), submits them in order, and later
// waits for them in the same order. ParsePool threads parse submitted chunks
// into Batches, each thread with a LineParser of its own. Parsing never fails:
// a malformed line is recorded in the chunk, and the reader accounts for it when
// it takes the chunk's examples, so counts and messages come out as if one
// thread had read the lines one by one.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "worker/batch.h"

namespace metaps {

class LineParser;

struct LineChunk {
  // What follows the chunk's last line.
  enum class End { kMore, kEndOfFile, kError };

  // --- Cut by the reader's thread ---
  size_t file_index = 0;
  std::shared_ptr<const std::string> first_line;  // the file's first line, for BeginFile
  std::string text;                               // the lines, back to back
  std::vector<size_t> ends;                       // line i is text[ends[i - 1], ends[i])
  std::vector<size_t> line_numbers;               // 1-based, in the file, per line
  size_t blank_lines = 0;                         // owned blank lines skipped while cutting
  size_t bytes = 0;  // bytes read from all files when the chunk was cut
  End end = End::kMore;
  Status error;  // for kError

  // --- Parsed by a pool thread ---
  struct BadLine {
    size_t line;  // index in this chunk
    std::string reason;
  };
  Batch batch;  // one example per well-formed line, in line order
  std::vector<BadLine> bad_lines;
  bool parsed = false;  // GUARDED_BY(the pool's mutex)

  size_t num_lines() const { return ends.size(); }
  std::string_view line(size_t i) const {
    const size_t begin = i == 0 ? 0 : ends[i - 1];
    return std::string_view(text.data() + begin, ends[i] - begin);
  }
  void AddLine(std::string_view line, size_t line_number) {
    text.append(line.data(), line.size());
    ends.push_back(text.size());
    line_numbers.push_back(line_number);
  }
  // Empties the chunk for reuse, keeping capacity.
  void Clear();
};

class ParsePool {
 public:
  // One thread per parser. `schema` must outlive the pool.
  ParsePool(std::vector<std::unique_ptr<LineParser>> parsers, const BatchSchema& schema);
  // Lets the chunks being parsed finish, drops the queued ones, joins.
  ~ParsePool();
  ParsePool(const ParsePool&) = delete;
  ParsePool& operator=(const ParsePool&) = delete;

  // Queues `chunk`; the caller leaves it alone until Wait(chunk) returns.
  void Submit(LineChunk* chunk);
  // Blocks until the submitted `chunk` is parsed.
  void Wait(const LineChunk* chunk);

 private:
  void Loop(LineParser* parser);
  void Parse(LineParser* parser, LineChunk* chunk, size_t* begun_file, std::string* reason) const;

  const std::vector<std::unique_ptr<LineParser>> parsers_;
  const BatchSchema& schema_;
  std::mutex mu_;
  std::condition_variable work_cv_;  // a chunk was queued, or stop_
  std::condition_variable done_cv_;  // a chunk was parsed
  std::deque<LineChunk*> queue_;     // GUARDED_BY(mu_)
  bool stop_ = false;                // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace metaps
