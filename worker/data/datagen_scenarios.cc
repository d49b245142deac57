// `datagen --kind scenarios`: the planted world's users and items clicking in
// K scenarios whose preferences are related but shifted.
#include <cmath>

#include "common/metrics.h"
#include "worker/data/datagen_util.h"
#include "worker/data/datagen_world.h"

namespace metaps {
namespace datagen {
namespace {

constexpr int kMaxScenarios = 16;
constexpr double kLogitScale = 1.4;  // of the standardized score: Bayes AUC about 0.8
constexpr uint64_t kCalibrationRows = 5000;
constexpr double kTargetRates[8] = {0.30, 0.22, 0.36, 0.26, 0.33, 0.19, 0.28, 0.24};

// Scenario s sees user vectors p_u * (1 + scale_s) + offset_s, prefers some
// genres (genre_bias_s), and its logit is standardized to kLogitScale.
struct Scenario {
  double weight;  // share of the rows, before normalization
  float scale[kWorldDim], offset[kWorldDim], genre_bias[kNumGenres];
  double mean = 0, inv_std = 1, bias = 0;
};

class ScenarioModel {
 public:
  ScenarioModel(const PlantedWorld& world, uint64_t seed, int num_scenarios);

  // Draws row `row` of `table`: its scenario, user, item and the uniform for the label.
  void Draw(uint32_t table, uint64_t row, uint32_t* scenario, uint64_t* user, uint64_t* item,
            double* label_uniform) const;
  double Raw(uint32_t s, uint64_t user, uint64_t item) const;
  double Probability(uint32_t s, uint64_t user, uint64_t item) const {
    const Scenario& sc = scenarios_[s];
    return Sigmoid(sc.bias + kLogitScale * (Raw(s, user, item) - sc.mean) * sc.inv_std);
  }

 private:
  const PlantedWorld& world_;
  const uint64_t seed_;
  std::vector<Scenario> scenarios_;
  std::vector<double> cdf_;
};

ScenarioModel::ScenarioModel(const PlantedWorld& world, uint64_t seed, int num_scenarios)
    : world_(world), seed_(seed), scenarios_(num_scenarios) {
  // Weights 1, 1/2, 1/4, ... and a last, small scenario (for meta-learning):
  // 1 : 0.5 : 0.1 for three scenarios.
  double total = 0;
  for (int s = 0; s < num_scenarios; ++s) {
    Scenario& sc = scenarios_[s];
    sc.weight = std::ldexp(s + 1 == num_scenarios ? 0.4 : 1.0, -s);
    total += sc.weight;
    const uint64_t key = static_cast<uint64_t>(s);
    for (int d = 0; d < kWorldDim; ++d) {
      sc.scale[d] = 0.5f * static_cast<float>(Normal(seed, kScenarioParams, key, d));
      sc.offset[d] = 0.2f * static_cast<float>(Normal(seed, kScenarioParams, key, kWorldDim + d));
    }
    for (int g = 0; g < kNumGenres; ++g) {
      sc.genre_bias[g] =
          0.3f * static_cast<float>(Normal(seed, kScenarioParams, key, 2 * kWorldDim + g));
    }
  }
  double acc = 0;
  for (const Scenario& sc : scenarios_) cdf_.push_back(acc += sc.weight / total);
  cdf_.back() = 1.0;
  // Calibrate each scenario on its own sample of (user, item) pairs.
  for (int s = 0; s < num_scenarios; ++s) {
    std::vector<double> raw(kCalibrationRows);
    for (uint64_t i = 0; i < kCalibrationRows; ++i) {
      const uint64_t stream = RowStreamSeed(seed, kScenarioCalibration, i * kMaxScenarios + s);
      uint64_t counter = 0;
      const uint64_t user = world.DrawUser(stream, &counter);
      raw[i] = Raw(s, user, world.DrawItem(stream, &counter));
    }
    Scenario& sc = scenarios_[s];
    double std;
    MeanStd(raw, &sc.mean, &std);
    sc.inv_std = 1.0 / std;
    for (double& x : raw) x = kLogitScale * (x - sc.mean) * sc.inv_std;
    sc.bias = SolveBiasForRate(raw, kTargetRates[s % 8]);
  }
}

double ScenarioModel::Raw(uint32_t s, uint64_t user, uint64_t item) const {
  const Scenario& sc = scenarios_[s];
  const float* p = world_.user_factors(user);
  const float* q = world_.item_factors(item);
  double dot = 0;
  for (int d = 0; d < kWorldDim; ++d) {
    dot += static_cast<double>(p[d] * (1.0f + sc.scale[d]) + sc.offset[d]) * q[d];
  }
  const uint32_t genres = world_.item_genres(item);
  double genre = 0;
  for (int g = 0; g < kNumGenres; ++g) {
    if (genres >> g & 1) genre += sc.genre_bias[g];
  }
  return static_cast<double>(world_.user_bias(user)) + world_.item_bias(item) + dot + genre;
}

void ScenarioModel::Draw(uint32_t table, uint64_t row, uint32_t* scenario, uint64_t* user,
                         uint64_t* item, double* label_uniform) const {
  const uint64_t stream = RowStreamSeed(seed_, table, row);
  uint64_t counter = 0;
  const double u = StreamUniform53(stream, counter++);
  uint32_t s = 0;
  while (u >= cdf_[s]) ++s;
  *scenario = s;
  *user = world_.DrawUser(stream, &counter);
  *item = world_.DrawItem(stream, &counter);
  *label_uniform = StreamUniform53(stream, counter++);
}

// {"scenario":s,"rows":...,...} for one scenario's counters and oracles.
OrderedJson ScenarioJson(uint32_t s, const uint64_t rows[kNumDataSplits], uint64_t positives,
                         const BinaryMetricsAccumulator oracle[kNumDataSplits]) {
  const BinaryMetrics valid = oracle[1].Result(), test = oracle[2].Result();
  const uint64_t total = rows[0] + rows[1] + rows[2];
  return {{"scenario", s},
          {"train_rows", rows[0]},
          {"valid_rows", rows[1]},
          {"test_rows", rows[2]},
          {"positive_rate", total > 0 ? static_cast<double>(positives) / total : NAN},
          {"valid_auc", valid.auc},
          {"valid_logloss", valid.logloss},
          {"test_auc", test.auc},
          {"test_logloss", test.logloss}};
}

}  // namespace

Status GenerateScenarios(const DatagenOptions& options, Env* env, DatagenResult* result) {
  const uint64_t num_users = options.users != 0 ? options.users : DefaultUsers(options.rows);
  const uint64_t num_items = options.items != 0 ? options.items : DefaultItems(options.rows);
  const PlantedWorld world(options.seed, num_users, num_items);
  const ScenarioModel model(world, options.seed, options.scenarios);
  SplitFiles files;
  RETURN_IF_ERROR(files.Open(env, options.out_dir, ".csv",
                             "label,scenario,user,item,age,gender,occupation,genres\n",
                             &result->files));
  const int k = options.scenarios;
  std::vector<BinaryMetricsAccumulator> oracle((k + 1) * kNumDataSplits);  // [s][split], k = all
  std::vector<uint64_t> rows((k + 1) * kNumDataSplits, 0), positives(k + 1, 0);
  for (uint64_t row = 0; row < options.rows; ++row) {
    const DataSplit split = SplitOfRow(row, result->split_rows);
    uint32_t s;
    uint64_t user, item;
    double label_uniform;
    model.Draw(kScenarioRows, row, &s, &user, &item, &label_uniform);
    const double p = model.Probability(s, user, item);
    const bool label = label_uniform < p;

    std::string& out = files[split].buffer();
    out.push_back(label ? '1' : '0');
    out.push_back(',');
    AppendUint(s, &out);
    out.push_back(',');
    AppendUint(user, &out);
    out.push_back(',');
    AppendUint(item, &out);
    out.push_back(',');
    AppendUint(static_cast<uint64_t>(world.age(user)), &out);
    out.push_back(',');
    out.push_back(world.gender(user));
    out.push_back(',');
    AppendUint(static_cast<uint64_t>(world.occupation(user)), &out);
    out.push_back(',');
    PlantedWorld::AppendGenres(world.item_genres(item), &out);
    out.push_back('\n');
    RETURN_IF_ERROR(files[split].MaybeFlush());

    const int sp = static_cast<int>(split);
    for (uint32_t group : {s, static_cast<uint32_t>(k)}) {
      ++rows[group * kNumDataSplits + sp];
      positives[group] += label;
      if (split != DataSplit::kTrain) oracle[group * kNumDataSplits + sp].Add(p, label);
    }
    if (options.on_row) options.on_row({split, label ? 1.0f : 0.0f, p, s});
  }
  RETURN_IF_ERROR(files.Close());

  OrderedJson per_scenario = OrderedJson::array();
  for (int s = 0; s < k; ++s) {
    per_scenario.push_back(
        ScenarioJson(s, &rows[s * kNumDataSplits], positives[s], &oracle[s * kNumDataSplits]));
  }
  const BinaryMetrics valid = oracle[k * kNumDataSplits + 1].Result();
  const BinaryMetrics test = oracle[k * kNumDataSplits + 2].Result();
  const OrderedJson json = {{"kind", "scenarios"},
                            {"rows", options.rows},
                            {"seed", options.seed},
                            {"scenarios", k},
                            {"train_rows", result->split_rows[0]},
                            {"valid_rows", result->split_rows[1]},
                            {"test_rows", result->split_rows[2]},
                            {"users", num_users},
                            {"items", num_items},
                            {"positive_rate", static_cast<double>(positives[k]) / options.rows},
                            {"valid_auc", valid.auc},
                            {"valid_logloss", valid.logloss},
                            {"test_auc", test.auc},
                            {"test_logloss", test.logloss},
                            {"per_scenario", per_scenario}};
  result->oracle_json = JsonText(json);
  return Status::Ok();
}

}  // namespace datagen
}  // namespace metaps
