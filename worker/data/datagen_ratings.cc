// `datagen --kind ratings`: MovieLens-style ratings from planted factors.
#include <algorithm>
#include <cmath>

#include "common/metrics.h"
#include "worker/data/datagen_util.h"
#include "worker/data/datagen_world.h"

namespace metaps {
namespace datagen {
namespace {

constexpr double kGlobalMean = 3.5;
constexpr double kNoiseStd = 0.7;
constexpr int64_t kFirstTimestamp = 1000000000;  // 2001-09-09
constexpr int64_t kSecondsPerRow = 10;           // timestamps increase with the row
// Cold-start oracle: support sizes k, the query size, and the most rows kept
// in memory for it (8 bytes each).
constexpr int kOracleShots[] = {0, 5, 10, 20, 50};
constexpr size_t kOracleQuery = 10;
constexpr uint64_t kOracleMaxRows = 20'000'000;

struct Rated {
  uint32_t item;
  float rating;
};

// Solves a x = b for the symmetric positive definite n x n `a` (row-major),
// by Cholesky; a and b are overwritten, x lands in b.
template <int N>
void SolveSpd(double (&a)[N][N], double (&b)[N]) {
  for (int j = 0; j < N; ++j) {
    for (int k = 0; k < j; ++k) a[j][j] -= a[j][k] * a[j][k];
    a[j][j] = std::sqrt(a[j][j]);
    for (int i = j + 1; i < N; ++i) {
      for (int k = 0; k < j; ++k) a[i][j] -= a[i][k] * a[j][k];
      a[i][j] /= a[j][j];
    }
  }
  for (int i = 0; i < N; ++i) {  // L y = b
    for (int k = 0; k < i; ++k) b[i] -= a[i][k] * b[k];
    b[i] /= a[i][i];
  }
  for (int i = N - 1; i >= 0; --i) {  // L^T x = y
    for (int k = i + 1; k < N; ++k) b[i] -= a[k][i] * b[k];
    b[i] /= a[i][i];
  }
}

// The Bayes-optimal cold-start predictor of the planted model: a user's
// factors and bias have the Gaussian prior of their attributes
// (PlantedWorld::UserPrior, kUserFactorStd, kUserBiasStd), ratings are linear
// in them with Gaussian noise (kNoiseStd, plus the half-step rounding's
// variance; clipping is ignored), so after the first k ratings the posterior
// mean is a ridge regression towards the prior mean. It scores each user's
// last kOracleQuery ratings; the metrics are per-user means over the users
// with at least k + kOracleQuery ratings, as `meta-train` reports them.
void AddColdStartOracle(const PlantedWorld& world, const std::vector<std::vector<Rated>>& by_user,
                        OrderedJson* json) {
  constexpr int kN = kWorldDim + 1;
  const double noise_var = kNoiseStd * kNoiseStd + 0.25 / 12;  // rounding to 0.5
  (*json)["meta_query"] = kOracleQuery;
  for (int k : kOracleShots) {
    double mae_sum = 0, rmse_sum = 0;
    uint64_t users = 0;
    for (uint64_t u = 1; u < by_user.size(); ++u) {
      const std::vector<Rated>& rows = by_user[u];
      if (rows.size() < static_cast<size_t>(k) + kOracleQuery) continue;
      double a[kN][kN] = {}, b[kN] = {}, prior[kN];
      world.UserPrior(u, prior, &prior[kWorldDim]);
      for (int d = 0; d < kN; ++d) {
        const double sd = d < kWorldDim ? kUserFactorStd : kUserBiasStd;
        a[d][d] = 1 / (sd * sd);
        b[d] = prior[d] / (sd * sd);
      }
      for (int j = 0; j < k; ++j) {
        double x[kN];
        const float* q = world.item_factors(rows[j].item);
        for (int d = 0; d < kWorldDim; ++d) x[d] = q[d];
        x[kWorldDim] = 1;
        const double y = rows[j].rating - kGlobalMean - world.item_bias(rows[j].item);
        for (int r = 0; r < kN; ++r) {
          b[r] += x[r] * y / noise_var;
          for (int c = 0; c < kN; ++c) a[r][c] += x[r] * x[c] / noise_var;
        }
      }
      SolveSpd(a, b);  // b: the posterior mean
      double abs = 0, sq = 0;
      for (size_t j = rows.size() - kOracleQuery; j < rows.size(); ++j) {
        const float* q = world.item_factors(rows[j].item);
        double z = kGlobalMean + world.item_bias(rows[j].item) + b[kWorldDim];
        for (int d = 0; d < kWorldDim; ++d) z += b[d] * q[d];
        const double e = std::clamp(z, 0.5, 5.0) - rows[j].rating;
        abs += std::fabs(e);
        sq += e * e;
      }
      mae_sum += abs / kOracleQuery;
      rmse_sum += std::sqrt(sq / kOracleQuery);
      ++users;
    }
    const std::string key = "meta_oracle_k" + std::to_string(k);
    (*json)[key + "_users"] = users;
    (*json)[key + "_mae"] = users > 0 ? mae_sum / static_cast<double>(users) : 0.0;
    (*json)[key + "_rmse"] = users > 0 ? rmse_sum / static_cast<double>(users) : 0.0;
  }
}

}  // namespace

Status GenerateRatings(const DatagenOptions& options, Env* env, DatagenResult* result) {
  const uint64_t num_users = options.users != 0 ? options.users : DefaultUsers(options.rows);
  const uint64_t num_items = options.items != 0 ? options.items : DefaultItems(options.rows);
  const PlantedWorld world(options.seed, num_users, num_items);
  for (const char* name : {"users.csv", "movies.csv"}) {
    const std::string path = JoinPath(options.out_dir, name);
    ASSIGN_OR_RETURN(std::unique_ptr<BufferedFile> file, BufferedFile::Open(env, path));
    RETURN_IF_ERROR(name[0] == 'u' ? world.WriteUsersCsv(file.get())
                                   : world.WriteMoviesCsv(file.get()));
    RETURN_IF_ERROR(file->Close());
    result->files.push_back(path);
  }

  SplitFiles files;
  RETURN_IF_ERROR(files.Open(env, options.out_dir, ".ratings.csv",
                             "userId,movieId,rating,timestamp\n", &result->files));
  RegressionMetricsAccumulator oracle[kNumDataSplits], constant_test;
  // Every user's ratings in time order (rows are), for the cold-start oracle.
  const bool cold_start_oracle = options.rows <= kOracleMaxRows;
  std::vector<std::vector<Rated>> by_user(cold_start_oracle ? num_users + 1 : 0);
  double train_sum = 0, rating_sum = 0;
  for (uint64_t row = 0; row < options.rows; ++row) {
    const DataSplit split = SplitOfRow(row, result->split_rows);
    const uint64_t stream = RowStreamSeed(options.seed, kRatingRows, row);
    uint64_t counter = 0;
    const uint64_t user = world.DrawUser(stream, &counter);
    const uint64_t item = world.DrawItem(stream, &counter);
    const double noise = BitsToNormal(StreamBits(stream, counter++));
    const double planted = kGlobalMean + world.Affinity(user, item);
    const double rating = std::clamp(std::round(2 * (planted + kNoiseStd * noise)) / 2, 0.5, 5.0);
    // The oracle predicts the noise-free planted rating, clipped to the scale.
    const double truth = std::clamp(planted, 0.5, 5.0);

    std::string& out = files[split].buffer();
    AppendUint(user, &out);
    out.push_back(',');
    AppendUint(item, &out);
    out.push_back(',');
    AppendHalfStep(rating, &out);
    out.push_back(',');
    AppendInt(kFirstTimestamp + static_cast<int64_t>(row) * kSecondsPerRow +
                  static_cast<int64_t>(StreamBits(stream, counter++) % kSecondsPerRow),
              &out);
    out.push_back('\n');
    RETURN_IF_ERROR(files[split].MaybeFlush());

    if (cold_start_oracle) {
      by_user[user].push_back({static_cast<uint32_t>(item), static_cast<float>(rating)});
    }
    rating_sum += rating;
    if (split == DataSplit::kTrain) train_sum += rating;
    if (split != DataSplit::kTrain) oracle[static_cast<int>(split)].Add(truth, rating);
    if (split == DataSplit::kTest) {
      const uint64_t n = result->split_rows[0];
      constant_test.Add(n > 0 ? train_sum / static_cast<double>(n) : kGlobalMean, rating);
    }
    if (options.on_row) options.on_row({split, static_cast<float>(rating), truth, 0});
  }
  RETURN_IF_ERROR(files.Close());

  const RegressionMetrics valid = oracle[1].Result(), test = oracle[2].Result();
  OrderedJson json = {{"kind", "ratings"},
                      {"rows", options.rows},
                      {"seed", options.seed},
                      {"train_rows", result->split_rows[0]},
                      {"valid_rows", result->split_rows[1]},
                      {"test_rows", result->split_rows[2]},
                      {"users", num_users},
                      {"items", num_items},
                      {"mean_rating", rating_sum / static_cast<double>(options.rows)},
                      {"noise_std", kNoiseStd},
                      {"valid_rmse", valid.rmse},
                      {"valid_mae", valid.mae},
                      {"test_rmse", test.rmse},
                      {"test_mae", test.mae},
                      {"constant_test_rmse", constant_test.Result().rmse},
                      {"latent_dim", kWorldDim}};
  if (cold_start_oracle) AddColdStartOracle(world, by_user, &json);
  result->oracle_json = JsonText(json);
  return Status::Ok();
}

}  // namespace datagen
}  // namespace metaps
