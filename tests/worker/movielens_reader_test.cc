#include "worker/data/movielens_reader.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/worker/reader_test_util.h"
#include "worker/data/feature_hash.h"

namespace metaps {
namespace {

using testing_util::Drained;
using testing_util::DrainReader;
using testing_util::FixtureDir;
using testing_util::SharedDataDir;

std::vector<uint64_t> Keys(const Batch& b, int slot, size_t example) {
  return std::vector<uint64_t>(b.slots[slot].KeysOf(example),
                               b.slots[slot].KeysOf(example) + b.slots[slot].NumKeys(example));
}

TEST(MovieLensDetectTest, FindsFlavourAndSideFiles) {
  auto k100 = DetectMovieLens(FixtureDir() + "/movielens/ml-100k");
  ASSERT_TRUE(k100.ok()) << k100.status();
  EXPECT_EQ(k100->flavor, MovieLensFlavor::k100K);
  EXPECT_EQ(k100->ratings, FixtureDir() + "/movielens/ml-100k/u.data");
  EXPECT_EQ(k100->users, FixtureDir() + "/movielens/ml-100k/u.user");
  EXPECT_EQ(k100->items, FixtureDir() + "/movielens/ml-100k/u.item");
  auto k1m = DetectMovieLens(FixtureDir() + "/movielens/ml-1m/");
  ASSERT_TRUE(k1m.ok());
  EXPECT_EQ(k1m->flavor, MovieLensFlavor::k1M);
  EXPECT_EQ(k1m->users, FixtureDir() + "/movielens/ml-1m/users.dat");
  auto latest = DetectMovieLens(FixtureDir() + "/movielens/ml-latest");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->flavor, MovieLensFlavor::kLatest);
  EXPECT_EQ(latest->users, "");
  EXPECT_EQ(latest->items, FixtureDir() + "/movielens/ml-latest/movies.csv");
  EXPECT_EQ(DetectMovieLens(FixtureDir() + "/ctr").status().code(), StatusCode::kNotFound);
}

TEST(MovieLensReaderTest, Ml100kWithUserAndItemSlots) {
  auto files = DetectMovieLens(FixtureDir() + "/movielens/ml-100k");
  ASSERT_TRUE(files.ok());
  auto reader = OpenMovieLensReader(*files, MovieLensOptions{}, ReaderOptions{});
  ASSERT_TRUE(reader.ok()) << reader.status();
  const BatchSchema& schema = (*reader)->schema();
  ASSERT_EQ(schema.num_slots(), 7u);
  EXPECT_EQ(schema.SlotIndex("user"), 0);
  EXPECT_EQ(schema.SlotIndex("item"), 1);
  EXPECT_EQ(schema.SlotIndex("gender"), 2);
  EXPECT_EQ(schema.SlotIndex("zip"), 5);
  EXPECT_EQ(schema.SlotIndex("genres"), 6);
  Drained all = DrainReader(reader->get());
  ASSERT_TRUE(all.status.ok()) << all.status;
  ASSERT_EQ(all.examples, 6u);
  const Batch& b = all.batches[0];
  // Line 1: 1 \t 10 \t 5 \t 881250949; user 1 is 24|M|technician|85711; item 10 is
  // Animation|Children's|Comedy.
  EXPECT_EQ(b.labels[0], 5.0f);
  EXPECT_EQ(b.user_ids[0], 1u);
  EXPECT_EQ(b.item_ids[0], 10u);
  EXPECT_EQ(b.timestamps[0], 881250949);
  EXPECT_EQ(Keys(b, 0, 0), std::vector<uint64_t>{HashId(0, 1)});
  EXPECT_EQ(Keys(b, 1, 0), std::vector<uint64_t>{HashId(1, 10)});
  EXPECT_EQ(Keys(b, 2, 0), std::vector<uint64_t>{HashToken(2, "M")});
  EXPECT_EQ(Keys(b, 3, 0), std::vector<uint64_t>{HashToken(3, "24")});
  EXPECT_EQ(Keys(b, 4, 0), std::vector<uint64_t>{HashToken(4, "technician")});
  EXPECT_EQ(Keys(b, 6, 0),
            (std::vector<uint64_t>{HashToken(6, "Animation"), HashToken(6, "Children's"),
                                   HashToken(6, "Comedy")}));
  EXPECT_EQ(b.labels[5], 4.5f);
  EXPECT_TRUE(Keys(b, 6, 5).empty());  // item 40 is not in u.item
}

TEST(MovieLensReaderTest, Ml1mBinaryLabelsAndHugeIds) {
  auto files = DetectMovieLens(FixtureDir() + "/movielens/ml-1m");
  ASSERT_TRUE(files.ok());
  MovieLensOptions format;
  format.binary_label = true;
  format.rating_threshold = 3.5;
  auto reader = OpenMovieLensReader(*files, format, ReaderOptions{});
  ASSERT_TRUE(reader.ok()) << reader.status();
  Drained all = DrainReader(reader->get());
  ASSERT_TRUE(all.status.ok()) << all.status;
  ASSERT_EQ(all.examples, 4u);
  const Batch& b = all.batches[0];
  EXPECT_EQ(b.labels, (std::vector<float>{1, 0, 1, 1}));  // ratings 5, 3, 4, 4
  EXPECT_EQ(b.user_ids[3], 6000000000ULL);
  EXPECT_EQ(Keys(b, 0, 3), std::vector<uint64_t>{HashId(0, 6000000000ULL)});
  EXPECT_EQ(Keys(b, 2, 0), std::vector<uint64_t>{HashToken(2, "F")});  // users.dat: gender 2nd
  EXPECT_EQ(Keys(b, 3, 0), std::vector<uint64_t>{HashToken(3, "1")});  // then age
  EXPECT_TRUE(Keys(b, 2, 3).empty());  // user 6000000000 has no users.dat line
  EXPECT_EQ(Keys(b, 6, 1),
            (std::vector<uint64_t>{HashToken(6, "Animation"), HashToken(6, "Children's"),
                                   HashToken(6, "Musical")}));
}

TEST(MovieLensReaderTest, MlLatestFixtureWithQuotedTitles) {
  auto files = DetectMovieLens(FixtureDir() + "/movielens/ml-latest");
  ASSERT_TRUE(files.ok());
  auto reader = OpenMovieLensReader(*files, MovieLensOptions{}, ReaderOptions{});
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_EQ((*reader)->schema().num_slots(), 3u);  // user, item, genres
  Drained all = DrainReader(reader->get());
  ASSERT_TRUE(all.status.ok()) << all.status;
  ASSERT_EQ(all.examples, 50u);
  const Batch& b = all.batches[0];
  // Line 2: 1,1,4.0,964982703; movie 1 is Adventure|Animation|Children|Comedy|Fantasy.
  EXPECT_EQ(b.labels[0], 4.0f);
  EXPECT_EQ(b.timestamps[0], 964982703);
  EXPECT_EQ(Keys(b, 2, 0).size(), 5u);
  // Movie 50 is "Usual Suspects, The (1995)",Crime|Mystery|Thriller.
  bool found = false;
  for (size_t i = 0; i < b.size(); ++i) {
    if (b.item_ids[i] != 50) continue;
    found = true;
    EXPECT_EQ(Keys(b, 2, i), (std::vector<uint64_t>{HashToken(2, "Crime"), HashToken(2, "Mystery"),
                                                    HashToken(2, "Thriller")}));
  }
  EXPECT_TRUE(found);
}

TEST(MovieLensReaderTest, MalformedSideFileNamesFileAndLine) {
  MovieLensFiles files;
  files.flavor = MovieLensFlavor::kLatest;
  files.ratings = FixtureDir() + "/movielens/ml-latest/ratings.csv";
  files.items =
      testing_util::WriteTempFile("movies_bad.csv", "movieId,title,genres\n1,\"Open quote,Drama\n");
  auto reader = OpenMovieLensReader(files, MovieLensOptions{}, ReaderOptions{});
  EXPECT_EQ(reader.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(reader.status().message().find(files.items + ":2: unbalanced quotes"),
            std::string::npos)
      << reader.status();
}

TEST(MovieLensReaderTest, WholeMlLatestSmallParses) {
  const std::string dir = SharedDataDir() + "/ml-latest-small";
  if (!testing_util::FileExists(dir + "/ratings.csv")) GTEST_SKIP() << "no " << dir;
  auto files = DetectMovieLens(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  ReaderOptions options;
  options.batch_size = 4096;
  auto reader = OpenMovieLensReader(*files, MovieLensOptions{}, options);
  ASSERT_TRUE(reader.ok()) << reader.status();
  Drained all = DrainReader(reader->get());
  ASSERT_TRUE(all.status.ok()) << all.status;
  EXPECT_EQ((*reader)->stats().bad_lines, 0u);
  // Every non-header line is a rating. The copy in shared/data carries one row
  // beyond the published 100,836 ("999,999999,5.0,..." with no final newline);
  // the published ones are exactly those of users 1..610.
  size_t lines = 0;
  {
    std::ifstream in(files->ratings);
    for (std::string line; std::getline(in, line);) lines += !line.empty();
  }
  EXPECT_EQ(all.examples, lines - 1);
  size_t published = 0, with_genres = 0;
  for (const Batch& b : all.batches) {
    for (size_t i = 0; i < b.size(); ++i) {
      published += b.user_ids[i] >= 1 && b.user_ids[i] <= 610;
      with_genres += b.slots[2].NumKeys(i) > 0;
    }
  }
  EXPECT_EQ(published, 100836u);
  EXPECT_EQ(with_genres, 100836u);  // every published rating's movie is in movies.csv
}

}  // namespace
}  // namespace metaps
