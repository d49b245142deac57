// MovieLens ratings, in the three layouts GroupLens ships:
//   ml-100k   u.data        user \t item \t rating \t timestamp
//   ml-1m     ratings.dat   user::item::rating::timestamp
//   ml-latest ratings.csv   userId,movieId,rating,timestamp (with that header)
// with optional side files beside them:
//   ml-100k   u.user  user|age|gender|occupation|zip   u.item  id|title|...|19 genre flags
//   ml-1m     users.dat  user::gender::age::occupation::zip   movies.dat  id::title::A|B
//   ml-latest movies.csv  movieId,"title, with commas",A|B
//             users.csv   userId,gender,age,occupation,zip (not in GroupLens'
//                         release; written by `metaps datagen --kind ratings`)
//
// Output: slots "user" and "item" (HashId of the ids), then, when a users file
// is given, "gender", "age", "occupation", "zip", and when an items file is
// given, "genres" (one key per genre, HashToken). user_ids/item_ids/timestamps
// hold the raw values. The label is the rating, or 1/0 for rating > threshold
// with binary_label. A rating whose user or item is missing from a side file
// gets no key in those slots.
#pragma once

#include <memory>
#include <string>

#include "worker/data/reader.h"
#include "worker/data/scenario_map.h"

namespace metaps {

enum class MovieLensFlavor { k100K, k1M, kLatest };
const char* MovieLensFlavorName(MovieLensFlavor flavor);

struct MovieLensFiles {
  MovieLensFlavor flavor = MovieLensFlavor::kLatest;
  std::string ratings;  // may be replaced by a split of it (e.g. ml-100k u1.base)
  std::string users;    // empty when absent (GroupLens ml-latest has none)
  std::string items;    // empty when absent
};

// Detects the flavour in `dir` by the ratings file's name (u.data, ratings.dat,
// ratings.csv, tried in that order) and fills in the side files that exist
// beside it. NotFound naming the three names if none is there.
StatusOr<MovieLensFiles> DetectMovieLens(const std::string& dir);

// The files of one split written by `metaps datagen --kind ratings`:
// dir/<split>.ratings.csv (ml-latest layout) with users.csv and movies.csv
// beside it. NotFound naming the path if the ratings file is missing.
StatusOr<MovieLensFiles> DetectMovieLensSplit(const std::string& dir, const std::string& split);

struct MovieLensOptions {
  bool binary_label = false;
  double rating_threshold = 3.5;  // binary label = rating > threshold
  bool use_side_files = true;
  // Scenario id from a users-file attribute (gender, age, occupation). Needs
  // the users file: OpenMovieLensReader fails naming it where there is none.
  // A rating whose user is not in the users file is a malformed line.
  ScenarioMap scenario;
};

// Loads the side files (whole: they are small) and opens the ratings file.
// A malformed side-file line is an InvalidArgument naming file:line.
StatusOr<std::unique_ptr<Reader>> OpenMovieLensReader(const MovieLensFiles& files,
                                                      const MovieLensOptions& format,
                                                      const ReaderOptions& options);

}  // namespace metaps
