#include "worker/data/parse_pool.h"

#include <limits>

#include "worker/data/reader.h"

namespace metaps {

void LineChunk::Clear() {
  file_index = 0;
  first_line.reset();
  text.clear();
  ends.clear();
  line_numbers.clear();
  blank_lines = 0;
  bytes = 0;
  end = End::kMore;
  error = Status::Ok();
  batch.Clear();
  bad_lines.clear();
}

ParsePool::ParsePool(std::vector<std::unique_ptr<LineParser>> parsers, const BatchSchema& schema)
    : parsers_(std::move(parsers)), schema_(schema) {
  threads_.reserve(parsers_.size());
  for (const auto& parser : parsers_) {
    LineParser* p = parser.get();
    threads_.emplace_back([this, p] { Loop(p); });
  }
}

ParsePool::~ParsePool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void ParsePool::Submit(LineChunk* chunk) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    chunk->parsed = false;
    queue_.push_back(chunk);
  }
  work_cv_.notify_one();
}

void ParsePool::Wait(const LineChunk* chunk) {
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return chunk->parsed; });
}

void ParsePool::Loop(LineParser* parser) {
  size_t begun_file = std::numeric_limits<size_t>::max();  // no file begun yet
  std::string reason;
  for (;;) {
    LineChunk* chunk;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      chunk = queue_.front();
      queue_.pop_front();
    }
    Parse(parser, chunk, &begun_file, &reason);
    {
      std::lock_guard<std::mutex> lock(mu_);
      chunk->parsed = true;
    }
    done_cv_.notify_all();
  }
}

void ParsePool::Parse(LineParser* parser, LineChunk* chunk, size_t* begun_file,
                      std::string* reason) const {
  chunk->batch.Reset(schema_);
  chunk->bad_lines.clear();
  if (chunk->num_lines() == 0) return;
  if (chunk->file_index != *begun_file) {
    parser->BeginFile(*chunk->first_line);
    *begun_file = chunk->file_index;
  }
  for (size_t i = 0; i < chunk->num_lines(); ++i) {
    reason->clear();
    if (!parser->ParseLine(chunk->line(i), &chunk->batch, reason)) {
      chunk->batch.AbortExample();
      chunk->bad_lines.push_back({i, *reason});
    }
  }
}

}  // namespace metaps
