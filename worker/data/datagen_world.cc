#include "worker/data/datagen_world.h"

#include <algorithm>
#include <numeric>

namespace metaps {
namespace datagen {

const char* const kGenreNames[kNumGenres] = {
    "Action",      "Adventure", "Animation", "Children",  "Comedy", "Crime",
    "Documentary", "Drama",     "Fantasy",   "Film-Noir", "Horror", "Musical",
    "Mystery",     "Romance",   "Sci-Fi",    "Thriller",  "War",    "Western"};

namespace {

// Relative frequencies of the genres and of the age buckets (after ml-1m).
constexpr double kGenreWeights[kNumGenres] = {8, 5, 2, 3, 14, 5, 2, 18, 3,
                                              1, 4, 2, 3, 7,  4, 8, 2,  1};
constexpr double kAgeWeights[kNumAgeBuckets] = {0.04, 0.18, 0.35, 0.2, 0.09, 0.08, 0.06};
constexpr double kUserActivityS = 0.5;
constexpr double kItemPopularityS = 0.7;

// Keys of the attribute effects in the kWorldParams stream.
constexpr uint64_t kAgeKey = 100, kGenderKey = 200, kOccupationKey = 300, kGenreKey = 400;

// Index drawn from `weights` by the uniform u.
template <size_t N>
int DrawIndex(const double (&weights)[N], double u) {
  const double total = std::accumulate(weights, weights + N, 0.0);
  double acc = 0;
  for (size_t i = 0; i + 1 < N; ++i) {
    acc += weights[i] / total;
    if (u < acc) return static_cast<int>(i);
  }
  return static_cast<int>(N - 1);
}

uint64_t CoprimeMultiplier(uint64_t n, uint64_t seed) {
  if (n <= 2) return 1;
  uint64_t m = Mix64(seed) % (n - 1) + 1;
  while (std::gcd(m, n) != 1) m = m % (n - 1) + 1;
  return m;
}

}  // namespace

uint64_t DefaultUsers(uint64_t rows) { return std::clamp<uint64_t>(rows / 100, 50, 1000000); }
uint64_t DefaultItems(uint64_t rows) { return std::clamp<uint64_t>(rows / 200, 30, 200000); }

PlantedWorld::PlantedWorld(uint64_t seed, uint64_t num_users, uint64_t num_items)
    : seed_(seed),
      num_users_(num_users),
      num_items_(num_items),
      user_multiplier_(CoprimeMultiplier(num_users, seed ^ 0x05e75ULL)),
      item_multiplier_(CoprimeMultiplier(num_items, seed ^ 0x17e45ULL)),
      user_activity_(num_users, kUserActivityS),
      item_popularity_(num_items, kItemPopularityS) {
  auto effect = [seed](uint64_t key, int index) {
    return static_cast<float>(Normal(seed, kWorldParams, key, static_cast<uint64_t>(index)));
  };
  age_bucket_.resize(num_users);
  female_.resize(num_users);
  occupation_.resize(num_users);
  zip_.resize(num_users);
  user_bias_.resize(num_users);
  user_factors_.resize(num_users * kWorldDim);
  for (uint64_t u = 0; u < num_users; ++u) {
    const int age = DrawIndex(kAgeWeights, Uniform(seed, kWorldUsers, u, 0));
    const bool female = Uniform(seed, kWorldUsers, u, 1) < 0.28;
    const int occupation =
        static_cast<int>(Uniform(seed, kWorldUsers, u, 2) * kNumOccupations) % kNumOccupations;
    age_bucket_[u] = static_cast<uint8_t>(age);
    female_[u] = female;
    occupation_[u] = static_cast<uint8_t>(occupation);
    zip_[u] = static_cast<uint32_t>(Uniform(seed, kWorldUsers, u, 3) * 100000) % 100000;
    const uint64_t attrs[3] = {kAgeKey + age, kGenderKey + female, kOccupationKey + occupation};
    // Per dimension: attribute part variance 3 * 0.2^2, individual 0.25^2.
    for (int d = 0; d < kWorldDim; ++d) {
      float x = static_cast<float>(kUserFactorStd) *
                static_cast<float>(Normal(seed, kWorldUsers, u, 8 + d));
      for (uint64_t key : attrs) x += 0.2f * effect(key, d);
      user_factors_[u * kWorldDim + d] = x;
    }
    float bias =
        static_cast<float>(kUserBiasStd) * static_cast<float>(Normal(seed, kWorldUsers, u, 4));
    for (uint64_t key : attrs) bias += 0.15f * effect(key, kWorldDim);
    user_bias_[u] = bias;
  }
  item_genres_.resize(num_items);
  item_bias_.resize(num_items);
  item_factors_.resize(num_items * kWorldDim);
  for (uint64_t i = 0; i < num_items; ++i) {
    const double u_count = Uniform(seed, kWorldItems, i, 0);
    const int count = u_count < 0.45 ? 1 : u_count < 0.8 ? 2 : 3;
    uint32_t genres = 0;
    for (int draw = 1; __builtin_popcount(genres) < count && draw < 16; ++draw) {
      genres |= 1u << DrawIndex(kGenreWeights, Uniform(seed, kWorldItems, i, draw));
    }
    item_genres_[i] = genres;
    const float norm = 1.0f / std::sqrt(static_cast<float>(__builtin_popcount(genres)));
    for (int d = 0; d < kWorldDim; ++d) {
      float genre_part = 0;
      for (int g = 0; g < kNumGenres; ++g) {
        if (genres >> g & 1) genre_part += effect(kGenreKey + g, d);
      }
      item_factors_[i * kWorldDim + d] =
          0.3f * norm * genre_part + 0.3f * static_cast<float>(Normal(seed, kWorldItems, i, 8 + d));
    }
    float genre_bias = 0;
    for (int g = 0; g < kNumGenres; ++g) {
      if (genres >> g & 1) genre_bias += effect(kGenreKey + g, kWorldDim);
    }
    item_bias_[i] =
        0.25f * norm * genre_bias + 0.35f * static_cast<float>(Normal(seed, kWorldItems, i, 4));
  }
}

uint64_t PlantedWorld::Scatter(uint64_t rank, uint64_t n, uint64_t multiplier) {
  return (rank - 1) * multiplier % n + 1;
}

uint64_t PlantedWorld::DrawUser(uint64_t stream, uint64_t* counter) const {
  return Scatter(user_activity_.Sample(stream, counter), num_users_, user_multiplier_);
}

uint64_t PlantedWorld::DrawItem(uint64_t stream, uint64_t* counter) const {
  return Scatter(item_popularity_.Sample(stream, counter), num_items_, item_multiplier_);
}

void PlantedWorld::UserPrior(uint64_t user, double* factor_mean, double* bias_mean) const {
  const uint64_t u = user - 1;
  const uint64_t attrs[3] = {kAgeKey + age_bucket_[u], kGenderKey + female_[u],
                             kOccupationKey + occupation_[u]};
  auto effect = [this](uint64_t key, int index) {
    return static_cast<float>(Normal(seed_, kWorldParams, key, static_cast<uint64_t>(index)));
  };
  for (int d = 0; d < kWorldDim; ++d) {
    float x = 0;
    for (uint64_t key : attrs) x += 0.2f * effect(key, d);
    factor_mean[d] = x;
  }
  float bias = 0;
  for (uint64_t key : attrs) bias += 0.15f * effect(key, kWorldDim);
  *bias_mean = bias;
}

double PlantedWorld::Affinity(uint64_t user, uint64_t item) const {
  const float* p = user_factors(user);
  const float* q = item_factors(item);
  double dot = 0;
  for (int d = 0; d < kWorldDim; ++d) dot += static_cast<double>(p[d]) * q[d];
  return static_cast<double>(user_bias(user)) + item_bias(item) + dot;
}

void PlantedWorld::AppendGenres(uint32_t genre_bits, std::string* out) {
  bool first = true;
  for (int g = 0; g < kNumGenres; ++g) {
    if (!(genre_bits >> g & 1)) continue;
    if (!first) out->push_back('|');
    *out += kGenreNames[g];
    first = false;
  }
}

Status PlantedWorld::WriteUsersCsv(BufferedFile* file) const {
  std::string& out = file->buffer();
  out += "userId,gender,age,occupation,zip\n";
  for (uint64_t user = 1; user <= num_users_; ++user) {
    AppendUint(user, &out);
    out.push_back(',');
    out.push_back(gender(user));
    out.push_back(',');
    AppendUint(static_cast<uint64_t>(age(user)), &out);
    out.push_back(',');
    AppendUint(static_cast<uint64_t>(occupation(user)), &out);
    out.push_back(',');
    const size_t at = out.size();
    AppendUint(100000 + zip(user), &out);
    out.erase(at, 1);  // five digits, leading zeros kept
    out.push_back('\n');
    RETURN_IF_ERROR(file->MaybeFlush());
  }
  return Status::Ok();
}

Status PlantedWorld::WriteMoviesCsv(BufferedFile* file) const {
  std::string& out = file->buffer();
  out += "movieId,title,genres\n";
  for (uint64_t item = 1; item <= num_items_; ++item) {
    AppendUint(item, &out);
    out += ",Movie ";
    AppendUint(item, &out);
    out += " (";
    AppendUint(1950 + Mix64(item) % 70, &out);
    out += "),";
    AppendGenres(item_genres(item), &out);
    out.push_back('\n');
    RETURN_IF_ERROR(file->MaybeFlush());
  }
  return Status::Ok();
}

}  // namespace datagen
}  // namespace metaps
