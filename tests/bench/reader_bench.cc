// Parse throughput of the Criteo reader on a synthetic TSV file.
//
//   reader_bench [lines=200000] [path=/tmp/metaps_reader_bench.tsv]
//
// Writes the file once (deterministic content, Criteo-like field widths), then
// reports, best of 3 passes over the page-cached file: a bare line scan
// (LineFile) and a full parse into Batches (4096 examples each). Prints a JSON
// line last. Never fails on speed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "worker/data/criteo_reader.h"
#include "worker/data/line_file.h"

namespace {

using Clock = std::chrono::steady_clock;

bool WriteSyntheticCriteo(const std::string& path, size_t lines) {
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr) return false;
  std::mt19937_64 rng(2024);
  std::string line;
  char field[32];
  for (size_t n = 0; n < lines; ++n) {
    line.clear();
    line += (rng() % 4 == 0) ? '1' : '0';
    for (int i = 0; i < 13; ++i) {
      line += '\t';
      if (rng() % 5 == 0) continue;  // missing
      std::snprintf(field, sizeof(field), "%llu",
                    static_cast<unsigned long long>(rng() % (i == 4 ? 100000 : 500)));
      line += field;
    }
    for (int i = 0; i < 26; ++i) {
      line += '\t';
      if (rng() % 8 == 0) continue;
      std::snprintf(field, sizeof(field), "%08llx",
                    static_cast<unsigned long long>(rng() % (i < 5 ? 1000 : 1000000)));
      line += field;
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), out);
  }
  return std::fclose(out) == 0;
}

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const size_t lines = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  const std::string path = argc > 2 ? argv[2] : "/tmp/metaps_reader_bench.tsv";
  if (!WriteSyntheticCriteo(path, lines)) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return 1;
  }

  double best_scan = 1e30, best_parse = 1e30;
  size_t bytes = 0, examples = 0, keys = 0;
  for (int pass = 0; pass < 3; ++pass) {
    auto start = Clock::now();
    auto file = metaps::LineFile::Open(path);
    if (!file.ok()) return std::fprintf(stderr, "%s\n", file.status().ToString().c_str()), 1;
    std::string_view line;
    size_t scanned = 0;
    for (;;) {
      auto got = (*file)->Next(&line);
      if (!got.ok() || !*got) break;
      scanned += line.size();
    }
    best_scan = std::min(best_scan, Seconds(start));
    bytes = (*file)->bytes_read();
    if (scanned == 0) return 1;

    start = Clock::now();
    metaps::ReaderOptions options;
    options.batch_size = 4096;
    auto reader = metaps::OpenCriteoReader({path}, options);
    if (!reader.ok()) return std::fprintf(stderr, "%s\n", reader.status().ToString().c_str()), 1;
    metaps::Batch batch;
    examples = keys = 0;
    for (;;) {
      metaps::Status status = (*reader)->Next(&batch);
      if (!status.ok()) return std::fprintf(stderr, "%s\n", status.ToString().c_str()), 1;
      if (batch.empty()) break;
      examples += batch.size();
      for (const auto& slot : batch.slots) keys += slot.keys.size();
    }
    best_parse = std::min(best_parse, Seconds(start));
  }

  const double mb = static_cast<double>(bytes) / 1e6;
  std::printf("file: %s, %zu lines, %.1f MB\n", path.c_str(), lines, mb);
  std::printf("line scan : %.3f s, %.2f M lines/s, %.0f MB/s\n", best_scan, lines / best_scan / 1e6,
              mb / best_scan);
  std::printf("criteo parse: %.3f s, %.2f M lines/s, %.0f MB/s (%zu examples, %zu keys)\n",
              best_parse, examples / best_parse / 1e6, mb / best_parse, examples, keys);
  std::printf(
      "{\"bench\":\"reader\",\"format\":\"criteo_tsv\",\"lines\":%zu,\"bytes\":%zu,"
      "\"scan_lines_per_s\":%.0f,\"parse_lines_per_s\":%.0f,\"parse_mb_per_s\":%.1f}\n",
      lines, bytes, lines / best_scan, examples / best_parse, mb / best_parse);
  return 0;
}
