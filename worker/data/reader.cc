#include "worker/data/reader.h"

#include <cstdio>

#include "common/logging.h"
#include "worker/data/parse_pool.h"

namespace metaps {

LineReader::LineReader(std::vector<std::string> files, const ReaderOptions& options)
    : files_(std::move(files)), options_(options) {
  stats_.scenario_examples.assign(options_.num_scenarios, 0);
}

// The parsing threads go first: they may be parsing chunks this reader owns.
LineReader::~LineReader() { pool_.reset(); }

Status LineReader::ValidateOptions(const std::vector<std::string>& files,
                                   const ReaderOptions& options) {
  if (files.empty()) return InvalidArgument("reader: no input files");
  if (options.num_workers < 1 || options.worker_index < 0 ||
      options.worker_index >= options.num_workers) {
    return InvalidArgument("reader: worker_index " + std::to_string(options.worker_index) +
                           " is not in [0, num_workers=" + std::to_string(options.num_workers) +
                           ")");
  }
  if (options.batch_size == 0) return InvalidArgument("reader: batch_size must be positive");
  if (options.threads < 1) {
    return InvalidArgument("reader: threads must be at least 1, got " +
                           std::to_string(options.threads));
  }
  return Status::Ok();
}

StatusOr<bool> LineReader::OpenNextFile() {
  if (next_file_ == files_.size()) return false;
  ASSIGN_OR_RETURN(file_, LineFile::Open(files_[next_file_++], options_.read_buffer_bytes));
  first_line_of_file_ = true;
  first_line_.reset();
  return true;
}

size_t LineReader::bytes_read() const {
  return bytes_of_closed_files_ + (file_ != nullptr ? file_->bytes_read() : 0);
}

StatusOr<LineReader::LineEvent> LineReader::NextOwnedLine(std::string_view* line,
                                                          size_t* blank_lines) {
  const size_t num_workers = static_cast<size_t>(options_.num_workers);
  const size_t worker_index = static_cast<size_t>(options_.worker_index);
  for (;;) {
    if (file_ == nullptr) {
      ASSIGN_OR_RETURN(bool opened, OpenNextFile());
      if (!opened) return LineEvent::kEndOfInput;
    }
    ASSIGN_OR_RETURN(bool got, file_->Next(line));
    if (!got) {
      bytes_of_closed_files_ += file_->bytes_read();
      file_.reset();
      return LineEvent::kEndOfFile;
    }
    if (first_line_of_file_) {
      first_line_of_file_ = false;
      first_line_ = std::make_shared<const std::string>(*line);
      ASSIGN_OR_RETURN(bool header, IsHeader(*line, file_->path()));
      if (header) continue;
    }
    if (line_index_++ % num_workers != worker_index) continue;
    if (line->find_first_not_of(" \t") == std::string_view::npos) {
      ++*blank_lines;
      continue;
    }
    return LineEvent::kLine;
  }
}

void LineReader::RecordBadLine(const std::string& path, size_t line_number,
                               const std::string& reason) {
  ++stats_.bad_lines;
  if (stats_.bad_lines > kMaxLoggedBadLines && !first_bad_line_.empty()) return;
  std::string where = path + ":" + std::to_string(line_number) + ": " +
                      (reason.empty() ? std::string("malformed line") : reason);
  METAPS_LOG(WARNING) << where
                      << (stats_.bad_lines == kMaxLoggedBadLines
                              ? " (further bad lines are counted, not logged)"
                              : "");
  if (first_bad_line_.empty()) first_bad_line_ = std::move(where);
}

Status LineReader::CheckBadFraction(const std::string& path, bool at_end_of_file) const {
  if (stats_.bad_lines == 0) return Status::Ok();
  if (!at_end_of_file && stats_.lines < options_.min_lines_for_bad_check) return Status::Ok();
  const double fraction = static_cast<double>(stats_.bad_lines) / static_cast<double>(stats_.lines);
  if (fraction <= options_.max_bad_fraction) return Status::Ok();
  char text[160];
  std::snprintf(text, sizeof(text),
                ": %zu of %zu lines read so far are malformed (%.3g%%, limit %.3g%%); first: ",
                stats_.bad_lines, stats_.lines, 100 * fraction, 100 * options_.max_bad_fraction);
  return InvalidArgument(path + text + first_bad_line_ +
                         " (fix the data or raise max_bad_fraction)");
}

Status LineReader::CheckScenario(uint32_t scenario, const std::string& path, size_t line_number) {
  if (options_.num_scenarios == 0) return Status::Ok();
  if (scenario >= options_.num_scenarios) {
    return InvalidArgument(path + ":" + std::to_string(line_number) + ": scenario id " +
                           std::to_string(scenario) + " is not below model.num_scenarios " +
                           std::to_string(options_.num_scenarios) +
                           " (raise it, or map the data's scenarios with data.scenario_from)");
  }
  ++stats_.scenario_examples[scenario];
  return Status::Ok();
}

Status LineReader::Next(Batch* batch) {
  batch->Reset(schema_);  // keeps capacity; allocates nothing once warm
  RETURN_IF_ERROR(error_);
  Status status = options_.threads > 1 ? FillParallel(batch) : Fill(batch);
  if (!status.ok()) {
    error_ = status;
    batch->Clear();
  }
  return status;
}

Status LineReader::Fill(Batch* batch) {
  if (parser_ == nullptr) parser_ = NewParser();
  std::string_view line;
  while (batch->size() < options_.batch_size) {
    ASSIGN_OR_RETURN(LineEvent event, NextOwnedLine(&line, &stats_.empty_lines));
    if (event == LineEvent::kEndOfInput) break;
    const std::string& path = files_[file_index()];
    if (event == LineEvent::kEndOfFile) {
      stats_.bytes = bytes_of_closed_files_;
      RETURN_IF_ERROR(CheckBadFraction(path, /*at_end_of_file=*/true));
      continue;
    }
    if (!parser_begun_ || parser_file_ != file_index()) {
      parser_->BeginFile(*first_line_);
      parser_file_ = file_index();
      parser_begun_ = true;
    }
    ++stats_.lines;
    reason_.clear();
    if (parser_->ParseLine(line, batch, &reason_)) {
      ++stats_.examples;
      RETURN_IF_ERROR(CheckScenario(batch->scenario_ids.back(), path, file_->line_number()));
    } else {
      batch->AbortExample();
      RecordBadLine(path, file_->line_number(), reason_);
    }
    if (stats_.bad_lines > 0) RETURN_IF_ERROR(CheckBadFraction(path, /*at_end_of_file=*/false));
  }
  stats_.bytes = bytes_read();
  return Status::Ok();
}

// --- Several parsing threads ---

Status LineReader::FillParallel(Batch* batch) {
  if (pool_ == nullptr) {
    std::vector<std::unique_ptr<LineParser>> parsers;
    for (int t = 0; t < options_.threads; ++t) parsers.push_back(NewParser());
    pool_ = std::make_unique<ParsePool>(std::move(parsers), schema_);
    const size_t batches = (kMinChunkLines + options_.batch_size - 1) / options_.batch_size;
    chunk_lines_ = batches * options_.batch_size;
  }
  while (batch->size() < options_.batch_size) {
    CutChunks();
    if (in_flight_.empty()) break;  // end of input
    LineChunk* chunk = in_flight_.front().get();
    pool_->Wait(chunk);
    bool done = false;
    RETURN_IF_ERROR(TakeFromChunk(chunk, batch, &done));
    if (done) {
      spare_chunks_.push_back(std::move(in_flight_.front()));
      in_flight_.pop_front();
      taken_lines_ = taken_bad_ = 0;
    }
  }
  return Status::Ok();
}

void LineReader::CutChunks() {
  const size_t max_in_flight = 2 * static_cast<size_t>(options_.threads);
  while (!cut_all_ && in_flight_.size() < max_in_flight) {
    std::unique_ptr<LineChunk> chunk;
    if (spare_chunks_.empty()) {
      chunk = std::make_unique<LineChunk>();
    } else {
      chunk = std::move(spare_chunks_.back());
      spare_chunks_.pop_back();
      chunk->Clear();
    }
    CutChunk(chunk.get());
    if (chunk->num_lines() == 0 && chunk->end == LineChunk::End::kMore) {
      spare_chunks_.push_back(std::move(chunk));  // nothing was left to read
      continue;
    }
    pool_->Submit(chunk.get());
    in_flight_.push_back(std::move(chunk));
  }
}

// A chunk holds lines of one file: it ends at the file's end, so per-file
// parser state and end-of-file checks stay in step with the lines.
void LineReader::CutChunk(LineChunk* chunk) {
  std::string_view line;
  while (chunk->num_lines() < chunk_lines_ && chunk->text.size() < kMaxChunkBytes) {
    StatusOr<LineEvent> event = NextOwnedLine(&line, &chunk->blank_lines);
    chunk->file_index = file_index();
    if (!event.ok()) {
      chunk->end = LineChunk::End::kError;
      chunk->error = event.status();
      cut_all_ = true;
      break;
    }
    if (*event == LineEvent::kEndOfInput) {
      cut_all_ = true;
      break;
    }
    if (*event == LineEvent::kEndOfFile) {
      chunk->end = LineChunk::End::kEndOfFile;
      break;
    }
    if (chunk->num_lines() == 0) chunk->first_line = first_line_;
    chunk->AddLine(line, file_->line_number());
  }
  chunk->bytes = bytes_read();
}

Status LineReader::TakeFromChunk(LineChunk* chunk, Batch* batch, bool* done) {
  const std::string& path = files_[chunk->file_index];
  const size_t first_example = taken_lines_ - taken_bad_;
  size_t taken = 0;
  // Line by line, as Fill counts them, so a bad-fraction error fires at the same line.
  while (taken_lines_ < chunk->num_lines() && batch->size() + taken < options_.batch_size) {
    ++stats_.lines;
    if (taken_bad_ < chunk->bad_lines.size() && chunk->bad_lines[taken_bad_].line == taken_lines_) {
      RecordBadLine(path, chunk->line_numbers[taken_lines_], chunk->bad_lines[taken_bad_].reason);
      ++taken_bad_;
    } else {
      ++stats_.examples;
      RETURN_IF_ERROR(CheckScenario(chunk->batch.scenario_ids[first_example + taken], path,
                                    chunk->line_numbers[taken_lines_]));
      ++taken;
    }
    ++taken_lines_;
    if (stats_.bad_lines > 0) RETURN_IF_ERROR(CheckBadFraction(path, /*at_end_of_file=*/false));
  }
  // Well-formed lines' examples are contiguous in chunk->batch.
  if (taken > 0) {
    if (batch->empty() && first_example == 0 && taken == chunk->batch.size()) {
      std::swap(*batch, chunk->batch);  // the whole chunk is this batch
    } else {
      batch->AppendRange(chunk->batch, first_example, first_example + taken);
    }
  }
  if (taken_lines_ < chunk->num_lines() || batch->size() >= options_.batch_size)
    return Status::Ok();
  // What follows the last line counts only when the batch wants more, as in Fill.
  stats_.empty_lines += chunk->blank_lines;
  chunk->blank_lines = 0;
  stats_.bytes = chunk->bytes;
  switch (chunk->end) {
    case LineChunk::End::kMore:
      break;
    case LineChunk::End::kEndOfFile:
      RETURN_IF_ERROR(CheckBadFraction(path, /*at_end_of_file=*/true));
      break;
    case LineChunk::End::kError:
      return chunk->error;
  }
  *done = true;
  return Status::Ok();
}

Status AppendAll(Reader* reader, Batch* out) {
  Batch batch;
  batch.Reset(reader->schema());
  while (true) {
    RETURN_IF_ERROR(reader->Next(&batch));  // Next clears the batch
    if (batch.size() == 0) return Status::Ok();
    out->AppendRange(batch, 0, batch.size());
  }
}

}  // namespace metaps
