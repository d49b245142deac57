// Parse throughput of the Criteo reader on a synthetic TSV file.
//
//   reader_bench [lines=200000] [path=/tmp/metaps_reader_bench.tsv]
//
// Writes the file once (deterministic content, Criteo-like field widths), then
// reports, best of 3 passes over the page-cached file: a bare line scan
// (LineFile) and a full parse into Batches (4096 examples each) with 1, 2 and 4
// parsing threads (ReaderOptions::threads; the batches are the same for all),
// and with one thread through a ShufflingReader of kShuffleBuffer examples.
// Prints a JSON line last. Never fails on speed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>

#include "common/json.h"
#include "worker/data/criteo_reader.h"
#include "worker/data/line_file.h"
#include "worker/data/shuffling_reader.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kShuffleBuffer = 16384;  // 4 batches

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

struct ParsePass {
  double seconds = 0;
  double cpu_seconds = 0;  // all threads of the process
  size_t examples = 0, keys = 0;
};

// One full parse of `path`, shuffled through a pool of `shuffle_buffer`
// examples if above 0; false (with the error printed) on a reader error.
bool Parse(const std::string& path, int threads, size_t shuffle_buffer, ParsePass* pass) {
  const auto start = Clock::now();
  const std::clock_t cpu_start = std::clock();
  metaps::ReaderOptions options;
  options.batch_size = 4096;
  options.threads = threads;
  auto reader = metaps::OpenCriteoReader({path}, options);
  if (!reader.ok()) return std::fprintf(stderr, "%s\n", reader.status().ToString().c_str()), false;
  if (shuffle_buffer > 0) {
    *reader = std::make_unique<metaps::ShufflingReader>(std::move(*reader), shuffle_buffer,
                                                        options.batch_size, /*seed=*/1);
  }
  metaps::Batch batch;
  pass->examples = pass->keys = 0;
  for (;;) {
    metaps::Status status = (*reader)->Next(&batch);
    if (!status.ok()) return std::fprintf(stderr, "%s\n", status.ToString().c_str()), false;
    if (batch.empty()) break;
    pass->examples += batch.size();
    for (const auto& slot : batch.slots) pass->keys += slot.keys.size();
  }
  pass->seconds = Seconds(start);
  pass->cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t lines = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  const std::string path = argc > 2 ? argv[2] : "/tmp/metaps_reader_bench.tsv";
  if (!WriteSyntheticCriteo(path, lines)) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return 1;
  }

  constexpr int kThreads[] = {1, 2, 4};
  double best_scan = 1e30;
  double best_parse[3] = {1e30, 1e30, 1e30};
  double cpu_of_best[3] = {0, 0, 0};
  double best_shuffled = 1e30;
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

    for (int t = 0; t < 3; ++t) {
      ParsePass parsed;
      if (!Parse(path, kThreads[t], 0, &parsed)) return 1;
      if (parsed.seconds < best_parse[t]) {
        best_parse[t] = parsed.seconds;
        cpu_of_best[t] = parsed.cpu_seconds;
      }
      if (t > 0 && (parsed.examples != examples || parsed.keys != keys)) {
        std::fprintf(stderr, "threads=%d read %zu examples, %zu keys; threads=1 read %zu, %zu\n",
                     kThreads[t], parsed.examples, parsed.keys, examples, keys);
        return 1;
      }
      examples = parsed.examples;
      keys = parsed.keys;
    }
    ParsePass shuffled;
    if (!Parse(path, 1, kShuffleBuffer, &shuffled)) return 1;
    if (shuffled.examples != examples || shuffled.keys != keys) {
      std::fprintf(stderr, "shuffled read %zu examples, %zu keys; unshuffled %zu, %zu\n",
                   shuffled.examples, shuffled.keys, examples, keys);
      return 1;
    }
    best_shuffled = std::min(best_shuffled, shuffled.seconds);
  }

  const double mb = static_cast<double>(bytes) / 1e6;
  std::printf("file: %s, %zu lines, %.1f MB\n", path.c_str(), lines, mb);
  std::printf("line scan : %.3f s, %.2f M lines/s, %.0f MB/s\n", best_scan, lines / best_scan / 1e6,
              mb / best_scan);
  for (int t = 0; t < 3; ++t) {
    std::printf(
        "criteo parse, %d thread%s: %.3f s (cpu %.3f s), %.2f M lines/s, %.0f MB/s, x%.2f (%zu "
        "examples, %zu keys)\n",
        kThreads[t], kThreads[t] == 1 ? " " : "s", best_parse[t], cpu_of_best[t],
        examples / best_parse[t] / 1e6, mb / best_parse[t], best_parse[0] / best_parse[t], examples,
        keys);
  }
  std::printf("criteo parse, 1 thread, shuffle buffer %zu: %.3f s, %.2f M lines/s, x%.2f\n",
              kShuffleBuffer, best_shuffled, examples / best_shuffled / 1e6,
              best_parse[0] / best_shuffled);
  const metaps::OrderedJson json = {
      {"bench", "reader"},
      {"format", "criteo_tsv"},
      {"lines", lines},
      {"bytes", bytes},
      {"scan_lines_per_s", metaps::JsonRounded(lines / best_scan, 0)},
      {"parse_lines_per_s", metaps::JsonRounded(examples / best_parse[0], 0)},
      {"parse_mb_per_s", metaps::JsonRounded(mb / best_parse[0], 1)},
      {"parse_lines_per_s_2_threads", metaps::JsonRounded(examples / best_parse[1], 0)},
      {"parse_lines_per_s_4_threads", metaps::JsonRounded(examples / best_parse[2], 0)},
      {"parse_lines_per_s_shuffled", metaps::JsonRounded(examples / best_shuffled, 0)}};
  std::printf("%s\n", metaps::JsonText(json).c_str());
  return 0;
}
