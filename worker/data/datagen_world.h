// The planted users and items behind datagen's ratings and scenarios kinds:
// user attributes (age bucket, gender, occupation, zip) and item genres, with
// biases and latent factors partly explained by them, and Zipf activity /
// popularity. Built once from the seed; read-only afterwards.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "worker/data/datagen_util.h"
#include "worker/data/zipf.h"

namespace metaps {
namespace datagen {

inline constexpr int kWorldDim = 8;
inline constexpr int kNumGenres = 18;
// The ml-latest genre names, in bit order of PlantedWorld::item_genres.
extern const char* const kGenreNames[kNumGenres];
// The ml-1m age buckets.
inline constexpr int kNumAgeBuckets = 7;
inline constexpr int kAgeBuckets[kNumAgeBuckets] = {1, 18, 25, 35, 45, 50, 56};
inline constexpr int kNumOccupations = 21;
// A user's factors and bias: the sum of their attributes' effects (the
// shared prior of users with the same attributes) plus an individual part
// of these standard deviations.
inline constexpr double kUserFactorStd = 0.25;
inline constexpr double kUserBiasStd = 0.3;

class PlantedWorld {
 public:
  // Users and items are numbered 1..num_users / 1..num_items.
  PlantedWorld(uint64_t seed, uint64_t num_users, uint64_t num_items);

  uint64_t num_users() const { return num_users_; }
  uint64_t num_items() const { return num_items_; }

  // Draw a user by activity / an item by popularity from (stream, *counter).
  uint64_t DrawUser(uint64_t stream, uint64_t* counter) const;
  uint64_t DrawItem(uint64_t stream, uint64_t* counter) const;

  float user_bias(uint64_t user) const { return user_bias_[user - 1]; }
  float item_bias(uint64_t item) const { return item_bias_[item - 1]; }
  const float* user_factors(uint64_t user) const { return &user_factors_[(user - 1) * kWorldDim]; }
  const float* item_factors(uint64_t item) const { return &item_factors_[(item - 1) * kWorldDim]; }
  // b_u + b_i + <p_u, q_i>.
  double Affinity(uint64_t user, uint64_t item) const;
  // The prior mean of a user's factors (kWorldDim floats) and bias given
  // their attributes: what the user's row is before any rating of theirs.
  void UserPrior(uint64_t user, double* factor_mean, double* bias_mean) const;

  int age(uint64_t user) const { return kAgeBuckets[age_bucket_[user - 1]]; }
  char gender(uint64_t user) const { return female_[user - 1] ? 'F' : 'M'; }
  int occupation(uint64_t user) const { return occupation_[user - 1]; }
  uint32_t zip(uint64_t user) const { return zip_[user - 1]; }
  uint32_t item_genres(uint64_t item) const { return item_genres_[item - 1]; }

  // "Action|Comedy" for an item's genre bits.
  static void AppendGenres(uint32_t genre_bits, std::string* out);
  // users.csv (userId,gender,age,occupation,zip) and movies.csv
  // (movieId,title,genres), with their headers; the caller closes the file.
  Status WriteUsersCsv(BufferedFile* file) const;
  Status WriteMoviesCsv(BufferedFile* file) const;

 private:
  // A bijection of [1, n] so that activity rank 1 is not always id 1.
  static uint64_t Scatter(uint64_t rank, uint64_t n, uint64_t multiplier);

  uint64_t seed_;
  uint64_t num_users_, num_items_;
  uint64_t user_multiplier_, item_multiplier_;
  ZipfSampler user_activity_, item_popularity_;
  std::vector<uint8_t> age_bucket_, female_, occupation_;
  std::vector<uint32_t> zip_, item_genres_;
  std::vector<float> user_bias_, item_bias_, user_factors_, item_factors_;
};

// Users and items for `rows` ratings when the options leave them 0.
uint64_t DefaultUsers(uint64_t rows);
uint64_t DefaultItems(uint64_t rows);

}  // namespace datagen
}  // namespace metaps
