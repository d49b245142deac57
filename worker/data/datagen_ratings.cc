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
  JsonLine json;
  json.Add("kind", std::string("ratings"))
      .Add("rows", options.rows)
      .Add("seed", options.seed)
      .Add("train_rows", result->split_rows[0])
      .Add("valid_rows", result->split_rows[1])
      .Add("test_rows", result->split_rows[2])
      .Add("users", num_users)
      .Add("items", num_items)
      .Add("mean_rating", rating_sum / static_cast<double>(options.rows))
      .Add("noise_std", kNoiseStd)
      .Add("valid_rmse", valid.rmse)
      .Add("valid_mae", valid.mae)
      .Add("test_rmse", test.rmse)
      .Add("test_mae", test.mae)
      .Add("constant_test_rmse", constant_test.Result().rmse)
      .Add("latent_dim", static_cast<uint64_t>(kWorldDim));
  result->oracle_json = json.Finish();
  return Status::Ok();
}

}  // namespace datagen
}  // namespace metaps
