// Parallel parsing (ReaderOptions::threads > 1) yields exactly the batches,
// counts, logged bad lines and errors of one thread; it stops cleanly when the
// reader is dropped mid-stream; skipping batches (how a resumed trainer finds
// its place) lands on the same batch.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <random>
#include <sstream>

#include "tests/worker/reader_test_util.h"
#include "worker/data/avazu_reader.h"
#include "worker/data/criteo_reader.h"
#include "worker/data/libsvm_reader.h"
#include "worker/data/movielens_reader.h"
#include "worker/data/prefetching_reader.h"
#include "worker/data/scenario_reader.h"

namespace metaps {
namespace {

using testing_util::Drained;
using testing_util::DrainReader;
using testing_util::FixtureDir;
using testing_util::WriteTempFile;

using Opener = std::function<StatusOr<std::unique_ptr<Reader>>(const ReaderOptions&)>;

void ExpectSameBatch(const Batch& a, const Batch& b, const std::string& where) {
  SCOPED_TRACE(where);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.dense, b.dense);  // exact: the same parse of the same text
  ASSERT_EQ(a.slots.size(), b.slots.size());
  for (size_t s = 0; s < a.slots.size(); ++s) {
    EXPECT_EQ(a.slots[s].offsets, b.slots[s].offsets) << "slot " << s;
    EXPECT_EQ(a.slots[s].keys, b.slots[s].keys) << "slot " << s;
    EXPECT_EQ(a.slots[s].values, b.slots[s].values) << "slot " << s;
  }
  EXPECT_EQ(a.scenario_ids, b.scenario_ids);
  EXPECT_EQ(a.user_ids, b.user_ids);
  EXPECT_EQ(a.item_ids, b.item_ids);
  EXPECT_EQ(a.timestamps, b.timestamps);
}

void ExpectSameBatches(const std::vector<Batch>& a, const std::vector<Batch>& b,
                       const std::string& where) {
  ASSERT_EQ(a.size(), b.size()) << where;
  for (size_t i = 0; i < a.size(); ++i)
    ExpectSameBatch(a[i], b[i], where + " batch " + std::to_string(i));
}

// The logged lines without their time stamps.
std::vector<std::string> LoggedBadLines(const std::string& log) {
  std::vector<std::string> out;
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    const size_t at = line.find("reader.cc:");
    if (at != std::string::npos) out.push_back(line.substr(at));
  }
  return out;
}

struct ReadResult {
  Drained drained;
  ReaderStats stats;
  std::vector<std::string> logged;
};

ReadResult ReadAll(const Opener& open, ReaderOptions options) {
  ReadResult run;
  auto reader = open(options);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return run;
  ::testing::internal::CaptureStderr();
  run.drained = DrainReader(reader->get());
  run.logged = LoggedBadLines(::testing::internal::GetCapturedStderr());
  run.stats = (*reader)->stats();
  return run;
}

// Reads with threads = 1 and with `threads`, and checks they agree on
// everything observable.
void ExpectSameAsOneThread(const Opener& open, ReaderOptions options, int threads,
                           const std::string& where) {
  options.threads = 1;
  const ReadResult one = ReadAll(open, options);
  options.threads = threads;
  const ReadResult many = ReadAll(open, options);
  const std::string at = where + " threads=" + std::to_string(threads) +
                         " batch=" + std::to_string(options.batch_size) + " worker " +
                         std::to_string(options.worker_index) + "/" +
                         std::to_string(options.num_workers);
  EXPECT_EQ(one.drained.status.ToString(), many.drained.status.ToString()) << at;
  ExpectSameBatches(one.drained.batches, many.drained.batches, at);
  EXPECT_EQ(one.logged, many.logged) << at;
  if (one.drained.status.ok()) {
    EXPECT_EQ(one.stats.lines, many.stats.lines) << at;
    EXPECT_EQ(one.stats.examples, many.stats.examples) << at;
    EXPECT_EQ(one.stats.bad_lines, many.stats.bad_lines) << at;
    EXPECT_EQ(one.stats.empty_lines, many.stats.empty_lines) << at;
    EXPECT_EQ(one.stats.bytes, many.stats.bytes) << at;
  } else {  // an error stops both at the same line
    EXPECT_EQ(one.stats.lines, many.stats.lines) << at;
    EXPECT_EQ(one.stats.bad_lines, many.stats.bad_lines) << at;
  }
}

// Criteo text with every kind of line: good, malformed (three reasons), blank,
// CRLF endings; `bad_numbers` gets the 1-based line numbers of the malformed ones.
std::string CriteoText(uint32_t seed, int lines, char delim, bool header, bool crlf,
                       int bad_per_mille, std::vector<size_t>* bad_numbers = nullptr) {
  std::mt19937 rng(seed);
  std::string text;
  const std::string eol = crlf ? "\r\n" : "\n";
  size_t number = 0;
  if (header) {
    text += "label";
    for (int i = 1; i <= 13; ++i) text += std::string(1, delim) + "I" + std::to_string(i);
    for (int i = 1; i <= 26; ++i) text += std::string(1, delim) + "C" + std::to_string(i);
    text += eol;
    ++number;
  }
  for (int n = 0; n < lines; ++n) {
    ++number;
    const uint32_t roll = rng() % 1000;
    if (roll < 20) {
      text += (roll % 2 ? "" : " \t ") + eol;
      continue;
    }
    std::string line = std::to_string(rng() % 2);
    for (int i = 0; i < 13; ++i) {
      line += delim;
      if (rng() % 5) line += std::to_string(static_cast<int>(rng() % 300) - 2);
    }
    for (int i = 0; i < 26; ++i) {
      line += delim;
      if (rng() % 7) line += std::to_string(rng() % 5000);
    }
    if (roll >= 1000 - static_cast<uint32_t>(bad_per_mille)) {
      if (bad_numbers != nullptr) bad_numbers->push_back(number);
      switch (roll % 3) {
        case 0:
          line = line.substr(0, line.size() / 2);  // too few fields
          break;
        case 1:
          line[0] = '7';  // label
          break;
        case 2:
          line.insert(line.find(delim) + 1, "x");  // I1 not a number
          break;
      }
    }
    text += line + (n + 1 == lines && !crlf ? "" : eol);  // LF files end without a newline
  }
  return text;
}

// Four files: CRLF TSV, CSV with a header, an empty file, a header-only CSV and
// an LF TSV without a final newline.
std::vector<std::string> MixedCriteoFiles(int bad_per_mille) {
  return {
      WriteTempFile("par_a.tsv", CriteoText(1, 1500, '\t', false, true, bad_per_mille)),
      WriteTempFile("par_b.csv", CriteoText(2, 800, ',', true, false, bad_per_mille)),
      WriteTempFile("par_empty.tsv", ""),
      WriteTempFile("par_header_only.csv", CriteoText(3, 0, ',', true, true, 0)),
      WriteTempFile("par_d.tsv", CriteoText(4, 2100, '\t', false, false, bad_per_mille)),
  };
}

Opener CriteoOpener(std::vector<std::string> files) {
  return [files](const ReaderOptions& o) { return OpenCriteoReader(files, o); };
}

TEST(ParallelReaderTest, CriteoBatchesCountsAndLogsMatchOneThread) {
  const Opener open = CriteoOpener(MixedCriteoFiles(/*bad_per_mille=*/15));
  for (size_t batch_size : {1, 5, 256, 300, 1000}) {
    for (int workers : {1, 3}) {
      for (int threads : {2, 4}) {
        ReaderOptions options;
        options.batch_size = batch_size;
        options.num_workers = workers;
        options.worker_index = workers - 1;
        options.max_bad_fraction = 1.0;  // count, do not fail
        ExpectSameAsOneThread(open, options, threads, "criteo");
      }
    }
  }
  // The inputs really have all the kinds of lines, and every one is accounted for.
  ReaderOptions options;
  options.threads = 4;
  options.max_bad_fraction = 1.0;
  const ReadResult run = ReadAll(open, options);
  ASSERT_TRUE(run.drained.status.ok()) << run.drained.status;
  EXPECT_GT(run.stats.bad_lines, 30u);
  EXPECT_GT(run.stats.empty_lines, 30u);
  EXPECT_EQ(run.stats.lines + run.stats.empty_lines, 1500u + 800u + 2100u);
  EXPECT_EQ(run.stats.examples, run.stats.lines - run.stats.bad_lines);
  EXPECT_EQ(run.drained.examples, run.stats.examples);
  EXPECT_EQ(run.logged.size(), LineReader::kMaxLoggedBadLines);
}

TEST(ParallelReaderTest, TooManyBadLinesFailsAtTheSameLineAndNamesIt) {
  std::vector<size_t> bad_a, bad_b;
  const std::string clean =
      WriteTempFile("par_clean.tsv", CriteoText(5, 1200, '\t', false, false, 0));
  const std::string a =
      WriteTempFile("par_bad_a.tsv", CriteoText(6, 3000, '\t', false, true, 5, &bad_a));
  const std::string b =
      WriteTempFile("par_bad_b.csv", CriteoText(7, 3000, ',', true, false, 5, &bad_b));
  ASSERT_FALSE(bad_a.empty());
  ASSERT_FALSE(bad_b.empty());
  for (size_t batch_size : {7, 256, 500}) {
    ReaderOptions options;  // 0.1% after 1000 lines: the check fires within the bad file
    options.batch_size = batch_size;
    ExpectSameAsOneThread(CriteoOpener({clean, a}), options, 4, "bad second file");
    ExpectSameAsOneThread(CriteoOpener({b}), options, 3, "bad csv");
    options.max_bad_fraction = 0.004;
    ExpectSameAsOneThread(CriteoOpener({clean, a, b}), options, 2, "looser limit");
  }
  ReaderOptions options;
  options.batch_size = 100;
  options.threads = 4;
  const ReadResult run = ReadAll(CriteoOpener({clean, a}), options);
  EXPECT_EQ(run.drained.status.code(), StatusCode::kInvalidArgument);
  const std::string& m = run.drained.status.message();
  EXPECT_EQ(m.rfind(a + ": ", 0), 0u) << m;  // names the file being read
  EXPECT_NE(m.find("first: " + a + ":" + std::to_string(bad_a[0]) + ": "), std::string::npos) << m;
  EXPECT_GT(run.drained.examples, 1000u);  // the clean file's batches came first
  Batch batch;
  auto reader = OpenCriteoReader({clean, a}, options);
  ASSERT_TRUE(reader.ok());
  Drained drained = DrainReader(reader->get());
  EXPECT_EQ((*reader)->Next(&batch).ToString(), drained.status.ToString());  // sticky
  EXPECT_TRUE(batch.empty());
}

TEST(ParallelReaderTest, ShortFileIsCheckedAtItsEnd) {
  std::vector<size_t> bad;
  const std::string text = CriteoText(8, 40, '\t', false, false, 150, &bad);
  ASSERT_FALSE(bad.empty());
  const std::string short_file = WriteTempFile("par_short.tsv", text);
  const std::string clean =
      WriteTempFile("par_clean2.tsv", CriteoText(9, 700, '\t', false, false, 0));
  for (size_t batch_size : {1, 8, 40, 64}) {
    ReaderOptions options;
    options.batch_size = batch_size;
    ExpectSameAsOneThread(CriteoOpener({clean, short_file, clean}), options, 4, "short bad file");
  }
  ReaderOptions options;
  options.threads = 2;
  const ReadResult run = ReadAll(CriteoOpener({clean, short_file, clean}), options);
  EXPECT_EQ(run.drained.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(run.drained.status.message().rfind(short_file + ": ", 0), 0u) << run.drained.status;
  EXPECT_NE(run.drained.status.message().find(short_file + ":" + std::to_string(bad[0])),
            std::string::npos);
}

TEST(ParallelReaderTest, OpenAndHeaderErrorsComeAfterTheBatchesBeforeThem) {
  const std::string a = WriteTempFile("par_ok.tsv", CriteoText(10, 900, '\t', false, false, 0));
  for (size_t batch_size : {1, 100, 256}) {
    ReaderOptions options;
    options.batch_size = batch_size;
    ExpectSameAsOneThread(CriteoOpener({a, "/nonexistent/criteo.tsv", a}), options, 4, "missing");
  }
  const std::string avazu = FixtureDir() + "/ctr/avazu_head30.csv";
  const std::string other =
      WriteTempFile("par_avazu_other.csv", "id,click,hour,C1\n1,0,14102100,5\n");
  const Opener open = [&](const ReaderOptions& o) {
    return OpenAvazuReader({avazu, avazu, other}, o);
  };
  ReaderOptions options;
  options.batch_size = 7;
  ExpectSameAsOneThread(open, options, 3, "avazu header");
  options.threads = 3;
  const ReadResult run = ReadAll(open, options);
  EXPECT_EQ(run.drained.examples, 56u);  // 58 rows; the batch with the last 2 meets the error
  EXPECT_NE(run.drained.status.message().find(other + ":1: header"), std::string::npos)
      << run.drained.status;
}

TEST(ParallelReaderTest, OtherFormatsMatchOneThread) {
  // libsvm with qid, comments, CRLF and malformed tokens.
  std::string libsvm;
  std::mt19937 rng(11);
  for (int n = 0; n < 1500; ++n) {
    libsvm += std::to_string(static_cast<int>(rng() % 2) * 2 - 1);
    if (n % 3 == 0) libsvm += " qid:" + std::to_string(n / 10);
    for (uint32_t k = rng() % 6; k > 0; --k) {
      libsvm += " " + std::to_string(rng() % 100000) + ":" + std::to_string(rng() % 100) + ".5";
    }
    if (n % 97 == 5) libsvm += " oops";
    if (n % 50 == 7) libsvm += " # a comment 1:1";
    libsvm += n % 2 ? "\r\n" : "\n";
    if (n % 61 == 0) libsvm += "\n";
  }
  const std::string lib_a = WriteTempFile("par_a.libsvm", libsvm);
  const std::string lib_b = WriteTempFile("par_b.libsvm", libsvm.substr(0, libsvm.size() / 3));
  const Opener open_libsvm = [&](const ReaderOptions& o) {
    return OpenLibsvmReader({lib_a, lib_b}, LibsvmOptions{}, o);
  };

  // Scenario CSV with multi-valued columns.
  std::string scenario = "label,scenario,user,item,tags\n";
  for (int n = 0; n < 1300; ++n) {
    scenario += std::to_string(rng() % 2) + "," + std::to_string(rng() % 3) + "," +
                std::to_string(rng() % 500) + "," + std::to_string(rng() % 900) + "," +
                (n % 89 == 3 ? "a|b,extra" : "t" + std::to_string(rng() % 9) + "|u") + "\n";
  }
  const std::string scen = WriteTempFile("par_scen.csv", scenario);
  const Opener open_scenario = [&](const ReaderOptions& o) {
    return OpenScenarioReader({scen}, o);
  };

  // MovieLens (ml-latest layout) with genres from movies.csv.
  const std::string ml_dir = ::testing::TempDir() + "/metaps_par_ml";
  std::filesystem::create_directories(ml_dir);
  std::string ratings = "userId,movieId,rating,timestamp\n";
  for (int n = 0; n < 2000; ++n) {
    ratings += std::to_string(1 + rng() % 60) + "," + std::to_string(1 + rng() % 40) + "," +
               (n % 113 == 9 ? "four" : std::to_string(1 + rng() % 5) + ".5") + "," +
               std::to_string(964982703 + n) + "\n";
  }
  WriteTempFile("par_ml/ratings.csv", ratings);
  std::string movies = "movieId,title,genres\n";
  for (int m = 1; m <= 40; ++m) {
    movies += std::to_string(m) + ",\"Film " + std::to_string(m) + ", The\",Drama|" +
              (m % 2 ? "Comedy" : "War") + "\n";
  }
  WriteTempFile("par_ml/movies.csv", movies);
  auto ml_files = DetectMovieLens(ml_dir);
  ASSERT_TRUE(ml_files.ok()) << ml_files.status();
  ASSERT_FALSE(ml_files->items.empty());
  const Opener open_movielens = [&](const ReaderOptions& o) {
    return OpenMovieLensReader(*ml_files, MovieLensOptions{}, o);
  };

  const Opener open_avazu = [](const ReaderOptions& o) {
    const std::string f = FixtureDir() + "/ctr/avazu_head30.csv";
    return OpenAvazuReader({f, f, f}, o);
  };

  for (size_t batch_size : {3, 64, 256}) {
    for (int workers : {1, 2}) {
      ReaderOptions options;
      options.batch_size = batch_size;
      options.num_workers = workers;
      options.worker_index = workers - 1;
      options.max_bad_fraction = 1.0;
      ExpectSameAsOneThread(open_libsvm, options, 3, "libsvm");
      ExpectSameAsOneThread(open_scenario, options, 2, "scenario");
      ExpectSameAsOneThread(open_movielens, options, 4, "movielens");
      ExpectSameAsOneThread(open_avazu, options, 2, "avazu");
    }
  }
  // Each input is read whole, malformed lines included (avazu's fixture has none).
  ReaderOptions options;
  options.max_bad_fraction = 1.0;
  options.threads = 2;
  const Opener* opens[] = {&open_libsvm, &open_scenario, &open_movielens, &open_avazu};
  const size_t min_bad[] = {1, 1, 1, 0};
  for (int f = 0; f < 4; ++f) {
    const ReadResult run = ReadAll(*opens[f], options);
    ASSERT_TRUE(run.drained.status.ok()) << f << ": " << run.drained.status;
    EXPECT_GT(run.drained.examples, 80u) << f;
    EXPECT_GE(run.stats.bad_lines, min_bad[f]) << f;
  }
}

// The first `n` batches of a one-thread read, for comparisons.
std::vector<Batch> Reference(const Opener& open, ReaderOptions options) {
  options.threads = 1;
  return ReadAll(open, options).drained.batches;
}

TEST(ParallelReaderTest, DroppedMidStreamOrAfterAnErrorWithoutHanging) {
  const Opener open = CriteoOpener(MixedCriteoFiles(/*bad_per_mille=*/0));
  ReaderOptions options;
  options.batch_size = 16;
  const std::vector<Batch> expected = Reference(open, options);
  ASSERT_GT(expected.size(), 100u);
  options.threads = 4;
  {
    auto reader = open(options);  // never read: no threads were started
    ASSERT_TRUE(reader.ok());
  }
  for (int read : {1, 2, 37}) {
    auto reader = open(options);
    ASSERT_TRUE(reader.ok());
    Batch batch;
    for (int i = 0; i < read; ++i) {
      ASSERT_TRUE((*reader)->Next(&batch).ok());
      ExpectSameBatch(batch, expected[i], "batch " + std::to_string(i));
    }
    reader->reset();  // chunks are still queued and being parsed
  }
  {
    // Behind the trainer's read-ahead thread, which is blocked handing over a batch.
    auto inner = open(options);
    ASSERT_TRUE(inner.ok());
    PrefetchingReader reader(std::move(inner).value());
    Batch batch;
    ASSERT_TRUE(reader.Next(&batch).ok());
    ExpectSameBatch(batch, expected[0], "prefetched");
  }
  {
    auto reader = OpenCriteoReader({"/nonexistent/a.tsv"}, options);
    ASSERT_TRUE(reader.ok());
    Batch batch;
    EXPECT_EQ((*reader)->Next(&batch).code(), StatusCode::kNotFound);
  }
}

// A resumed trainer skips the batches it already trained on (trainer.cc), so
// the k-th batch must be the same whatever the thread count.
TEST(ParallelReaderTest, SkippingBatchesLandsOnTheSameBatch) {
  const Opener open = CriteoOpener(MixedCriteoFiles(/*bad_per_mille=*/4));
  for (int workers : {1, 2}) {
    ReaderOptions options;
    options.batch_size = 64;
    options.num_workers = workers;
    options.worker_index = workers - 1;
    options.max_bad_fraction = 1.0;
    const std::vector<Batch> expected = Reference(open, options);
    ASSERT_GT(expected.size(), 20u);
    options.threads = 3;
    for (size_t skip : {size_t{0}, size_t{5}, expected.size() - 1, expected.size() + 2}) {
      auto inner = open(options);
      ASSERT_TRUE(inner.ok());
      PrefetchingReader reader(std::move(inner).value());
      Batch batch;
      for (size_t i = 0; i < skip; ++i) ASSERT_TRUE(reader.Next(&batch).ok());
      std::vector<Batch> rest;
      for (;;) {
        ASSERT_TRUE(reader.Next(&batch).ok());
        if (batch.empty()) break;
        rest.push_back(batch);
      }
      const std::vector<Batch> want(expected.begin() + std::min(skip, expected.size()),
                                    expected.end());
      ExpectSameBatches(rest, want, "skip " + std::to_string(skip));
    }
  }
}

TEST(BatchTest, AppendRangeEqualsBuildingTheExamples) {
  BatchSchema schema;
  schema.dense_names = {"d0", "d1"};
  schema.slots = {{"plain", false}, {"valued", true}};
  auto add = [](Batch* b, int i) {
    b->AddDense(static_cast<float>(i));
    b->AddDense(-static_cast<float>(i));
    for (int k = 0; k < i % 3; ++k) b->AddKey(0, static_cast<uint64_t>(100 * i + k));
    for (int k = 0; k < i % 2; ++k) b->AddKeyValue(1, static_cast<uint64_t>(i), 0.5f * i);
    b->FinishExample(static_cast<float>(i % 2), static_cast<uint32_t>(i), 10u + i, 20u + i, i);
  };
  Batch src, direct, appended;
  src.Reset(schema);
  direct.Reset(schema);
  appended.Reset(schema);
  for (int i = 0; i < 10; ++i) add(&src, i);
  for (int i = 0; i < 2; ++i) add(&direct, i);
  for (int i = 4; i < 9; ++i) add(&direct, i);
  appended.AppendRange(src, 0, 2);
  appended.AppendRange(src, 3, 3);  // empty range
  appended.AppendRange(src, 4, 9);
  ExpectSameBatch(appended, direct, "appended");
}

}  // namespace
}  // namespace metaps
