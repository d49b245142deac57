// `datagen --kind ctr`: Criteo-like rows from a planted factorization machine.
#include <array>
#include <cmath>
#include <memory>

#include "common/metrics.h"
#include "worker/data/criteo_reader.h"
#include "worker/data/datagen_util.h"
#include "worker/data/zipf.h"

namespace metaps {
namespace datagen {
namespace {

constexpr int kDim = 8;     // latent dimension of the planted FM
constexpr int kHidden = 8;  // hidden units of the dense MLP term
constexpr double kTargetRate = 0.25;
// Scale of the standardized logit; sets the Bayes AUC (about 0.82 at 1.45).
constexpr double kLogitScale = 1.45;
// An id's planted effect shrinks with its frequency rank k (1-based) as
// 1 / (1 + (k - 1) / kTailRank): halved at rank 11, a tenth at rank 91.
constexpr float kTailRank = 10.0f;
constexpr uint64_t kCalibrationRows = 20000;
// Variance shares of first-order, FM and dense terms in the standardized logit.
constexpr double kShares[3] = {0.5, 0.3, 0.2};

struct CategoricalSpec {
  uint32_t vocab;
  double zipf_s;
  double missing;  // probability that the field is empty
};
// Vocabulary sizes, skew and missing rates loosely after Criteo's C1..C26.
constexpr CategoricalSpec kCategorical[kCriteoNumSlots] = {
    {1400, 1.05, 0},     {550, 1.1, 0},     {100000, 1.1, 0.03}, {60000, 1.15, 0.03},
    {300, 1.2, 0},       {24, 1.0, 0.12},   {12000, 1.1, 0},     {630, 1.3, 0},
    {3, 1.5, 0},         {30000, 1.1, 0},   {5000, 1.1, 0},      {80000, 1.2, 0.03},
    {3000, 1.1, 0},      {27, 1.1, 0},      {14000, 1.1, 0},     {70000, 1.15, 0.03},
    {10, 1.2, 0},        {5600, 1.1, 0},    {2200, 1.05, 0.44},  {4, 1.3, 0.44},
    {90000, 1.15, 0.03}, {18, 1.1, 0.76},   {15, 1.2, 0},        {40000, 1.1, 0.03},
    {100, 1.1, 0.44},    {30000, 1.1, 0.44}};
// Fields whose values carry no signal (as some Criteo fields nearly do).
constexpr bool IsNoiseField(int f) { return f == 8 || f == 17; }

struct DenseSpec {
  double log_mean, log_std, missing;  // x = floor(exp(N(log_mean, log_std^2)))
};
constexpr DenseSpec kDense[kCriteoNumDense] = {
    {1.0, 1.2, 0.45}, {2.0, 1.5, 0},    {2.0, 1.3, 0.21}, {1.7, 1.0, 0.22}, {7.5, 1.8, 0.03},
    {4.0, 1.6, 0.22}, {2.0, 1.4, 0.04}, {2.5, 1.0, 0.0},  {4.0, 1.3, 0.04}, {0.5, 0.8, 0.45},
    {1.0, 1.0, 0.04}, {0.5, 1.2, 0.77}, {1.7, 1.1, 0.22}};

// A 32-bit bijection keyed by `key`, so distinct ranks get distinct tokens.
uint32_t Permute32(uint32_t x, uint64_t key) {
  x ^= static_cast<uint32_t>(key);
  x *= 0x9e3779b1u;
  x ^= x >> 15;
  x *= static_cast<uint32_t>(key >> 32) | 1u;
  x ^= x >> 13;
  x *= 0x85ebca6bu;
  x ^= x >> 16;
  return x;
}

struct CtrRow {
  std::array<int64_t, kCriteoNumDense> dense;
  std::array<bool, kCriteoNumDense> dense_missing;
  std::array<uint32_t, kCriteoNumSlots> rank;  // 0 = missing
  double terms[3];                             // first-order, FM, MLP (raw)
  double label_uniform;
};

class PlantedCtrModel {
 public:
  explicit PlantedCtrModel(uint64_t seed);

  // Moves the categorical weights and latent vectors one day on as a
  // stationary AR(1) process: w <- sqrt(1 - drift) w + sqrt(drift) e_day, with
  // e_day drawn like the day-0 weights (same importance and frequency tail),
  // so consecutive days correlate sqrt(1 - drift) and every day has the same
  // scale. The ids and the dense MLP stay; the calibration is redone.
  void Drift(uint64_t day, double drift);

  // Draws row `row` of the stream `table` and its raw logit terms.
  void Draw(uint32_t table, uint64_t row, CtrRow* r) const;
  // The raw logit terms of r's values under this model.
  void ComputeTerms(CtrRow* r) const;
  double Logit(const CtrRow& r) const {
    double z = 0;
    for (int t = 0; t < 3; ++t) z += scale_[t] * (r.terms[t] - mean_[t]);
    return bias_ + z;
  }
  uint32_t Token(int field, uint32_t rank) const { return Permute32(rank, token_keys_[field]); }

 private:
  const uint64_t seed_;
  std::vector<ZipfSampler> samplers_;
  std::array<uint64_t, kCriteoNumSlots> token_keys_;
  std::array<std::vector<float>, kCriteoNumSlots> weights_;  // [rank - 1]
  std::array<std::vector<float>, kCriteoNumSlots> latent_;   // [(rank - 1) * kDim + d]
  float w1_[kHidden][kCriteoNumDense], b1_[kHidden], w2_[kHidden];
  double mean_[3] = {0, 0, 0}, scale_[3] = {1, 1, 1}, bias_ = 0;
  std::array<float, kCriteoNumSlots> importance_;

  void Calibrate();
};

PlantedCtrModel::PlantedCtrModel(uint64_t seed) : seed_(seed) {
  for (int f = 0; f < kCriteoNumSlots; ++f) {
    const CategoricalSpec& spec = kCategorical[f];
    samplers_.emplace_back(spec.vocab, spec.zipf_s);
    token_keys_[f] = Mix64(RowStreamSeed(seed, kCtrFieldParams, static_cast<uint64_t>(f)));
    const float importance = importance_[f] =
        IsNoiseField(f) ? 0.0f : 0.3f + 1.2f * CounterUniform(seed, kCtrFieldParams, 1000 + f, 0);
    weights_[f].resize(spec.vocab);
    latent_[f].resize(static_cast<size_t>(spec.vocab) * kDim);
    for (uint32_t k = 0; k < spec.vocab; ++k) {
      // Rare ids carry less signal (their effect shrinks with frequency rank),
      // as in real logs; otherwise the Bayes optimum would rest on ids a
      // learner sees a handful of times and no model could approach it. With
      // the slower 1/sqrt(1 + k/100), a 1M-row job saw most signal-bearing
      // ids too rarely: deepfm reached AUC 0.789 against an optimum of 0.815
      // (0.798 with 6.4M rows).
      const float tail = 1.0f / (1.0f + static_cast<float>(k) / kTailRank);
      weights_[f][k] = importance * tail * CounterNormal(seed, kCtrFieldTable + f, k, 0);
      for (int d = 0; d < kDim; ++d) {
        latent_[f][static_cast<size_t>(k) * kDim + d] =
            importance * tail * CounterNormal(seed, kCtrFieldTable + f, k, 1 + d);
      }
    }
  }
  for (int h = 0; h < kHidden; ++h) {
    for (int j = 0; j < kCriteoNumDense; ++j) {
      w1_[h][j] = CounterNormal(seed, kCtrDenseParams, h, j) /
                  static_cast<float>(kDense[j].log_std * std::sqrt(kCriteoNumDense));
    }
    b1_[h] = 0.5f * CounterNormal(seed, kCtrDenseParams, 100 + h, 0);
    w2_[h] = CounterNormal(seed, kCtrDenseParams, 200 + h, 0);
  }
  Calibrate();
}

void PlantedCtrModel::Drift(uint64_t day, double drift) {
  const float keep = static_cast<float>(std::sqrt(1.0 - drift));
  const float add = static_cast<float>(std::sqrt(drift));
  for (int f = 0; f < kCriteoNumSlots; ++f) {
    for (uint32_t k = 0; k < kCategorical[f].vocab; ++k) {
      const float scale = add * importance_[f] / (1.0f + static_cast<float>(k) / kTailRank);
      const uint64_t base = day * (1 + kDim);
      float& w = weights_[f][k];
      w = keep * w + scale * CounterNormal(seed_, kCtrDriftTable + f, k, base);
      float* v = &latent_[f][static_cast<size_t>(k) * kDim];
      for (int d = 0; d < kDim; ++d) {
        v[d] = keep * v[d] + scale * CounterNormal(seed_, kCtrDriftTable + f, k, base + 1 + d);
      }
    }
  }
  for (int t = 0; t < 3; ++t) {
    mean_[t] = 0;
    scale_[t] = 1;
  }
  bias_ = 0;
  Calibrate();
}

void PlantedCtrModel::Calibrate() {
  // Standardize each term over a calibration sample, mix them by kShares, and
  // pick the bias that gives the target positive rate.
  std::vector<double> terms[3], z(kCalibrationRows);
  CtrRow r;
  for (uint64_t i = 0; i < kCalibrationRows; ++i) {
    Draw(kCtrCalibration, i, &r);
    for (int t = 0; t < 3; ++t) terms[t].push_back(r.terms[t]);
  }
  for (int t = 0; t < 3; ++t) {
    double std;
    MeanStd(terms[t], &mean_[t], &std);
    scale_[t] = std::sqrt(kShares[t]) / std;
  }
  for (uint64_t i = 0; i < kCalibrationRows; ++i) {
    for (int t = 0; t < 3; ++t) z[i] += scale_[t] * (terms[t][i] - mean_[t]);
  }
  double z_mean, z_std;
  MeanStd(z, &z_mean, &z_std);
  for (int t = 0; t < 3; ++t) scale_[t] *= kLogitScale / z_std;
  for (double& x : z) x = (x - z_mean) * kLogitScale / z_std;
  bias_ = SolveBiasForRate(z, kTargetRate) - z_mean * kLogitScale / z_std;
}

void PlantedCtrModel::Draw(uint32_t table, uint64_t row, CtrRow* r) const {
  const uint64_t stream = RowStreamSeed(seed_, table, row);
  uint64_t counter = 0;
  for (int j = 0; j < kCriteoNumDense; ++j) {
    const DenseSpec& spec = kDense[j];
    r->dense_missing[j] = spec.missing > 0 && StreamUniform53(stream, counter++) < spec.missing;
    const double normal = BitsToNormal(StreamBits(stream, counter++));
    double x = std::floor(std::exp(spec.log_mean + spec.log_std * normal));
    if (x > 1e9) x = 1e9;
    r->dense[j] = static_cast<int64_t>(x) - (j == 1 ? 1 : 0);  // I2 may be -1, as in Criteo
  }
  for (int f = 0; f < kCriteoNumSlots; ++f) {
    const double missing = kCategorical[f].missing;
    if (missing > 0 && StreamUniform53(stream, counter++) < missing) {
      r->rank[f] = 0;
      continue;
    }
    r->rank[f] = static_cast<uint32_t>(samplers_[f].Sample(stream, &counter));
  }
  r->label_uniform = StreamUniform53(stream, counter++);
  ComputeTerms(r);
}

void PlantedCtrModel::ComputeTerms(CtrRow* r) const {
  float input[kCriteoNumDense];
  for (int j = 0; j < kCriteoNumDense; ++j) {
    input[j] = r->dense_missing[j] ? 0.0f
                                   : CriteoDenseTransform(static_cast<double>(r->dense[j])) -
                                         static_cast<float>(kDense[j].log_mean);
  }
  double first = 0, sum_sq = 0, sum[kDim] = {0};
  for (int f = 0; f < kCriteoNumSlots; ++f) {
    const uint32_t rank = r->rank[f];
    if (rank == 0) continue;
    first += weights_[f][rank - 1];
    const float* v = &latent_[f][static_cast<size_t>(rank - 1) * kDim];
    for (int d = 0; d < kDim; ++d) {
      sum[d] += v[d];
      sum_sq += static_cast<double>(v[d]) * v[d];
    }
  }
  double fm = -sum_sq;
  for (int d = 0; d < kDim; ++d) fm += sum[d] * sum[d];
  double mlp = 0;
  for (int h = 0; h < kHidden; ++h) {
    float a = b1_[h];
    for (int j = 0; j < kCriteoNumDense; ++j) a += w1_[h][j] * input[j];
    mlp += w2_[h] * std::tanh(a);
  }
  r->terms[0] = first;
  r->terms[1] = 0.5 * fm / kDim;
  r->terms[2] = mlp;
}

void AppendCtrLine(const PlantedCtrModel& model, const CtrRow& r, bool label, std::string* out) {
  out->push_back(label ? '1' : '0');
  for (int j = 0; j < kCriteoNumDense; ++j) {
    out->push_back('\t');
    if (!r.dense_missing[j]) AppendInt(r.dense[j], out);
  }
  for (int f = 0; f < kCriteoNumSlots; ++f) {
    out->push_back('\t');
    if (r.rank[f] != 0) AppendHex32(model.Token(f, r.rank[f]), out);
  }
  out->push_back('\n');
}

}  // namespace

namespace {

// One day of a drifting dataset (or the whole of a plain one).
struct CtrPart {
  std::string dir;
  uint64_t row_offset = 0;                     // rows of earlier days: each day draws its own rows
  const PlantedCtrModel* yesterday = nullptr;  // the previous day's model, or null
  std::string date;                            // "YYYY-MM-DD", or empty
  double drift = 0;
};

Status WriteCtrPart(const PlantedCtrModel& model, const CtrPart& part,
                    const DatagenOptions& options, Env* env, DatagenResult* result) {
  SplitFiles files;
  RETURN_IF_ERROR(files.Open(env, part.dir, ".txt", "", &result->files));
  BinaryMetricsAccumulator oracle[kNumDataSplits], constant_test, stale_test;
  uint64_t positives[kNumDataSplits] = {0, 0, 0};
  double probability_sum = 0;
  CtrRow r;
  for (uint64_t row = 0; row < options.rows; ++row) {
    const DataSplit split = SplitOfRow(row, result->split_rows);
    model.Draw(kCtrRows, part.row_offset + row, &r);
    const double p = Sigmoid(model.Logit(r));
    const bool label = r.label_uniform < p;
    BufferedFile& file = files[split];
    AppendCtrLine(model, r, label, &file.buffer());
    RETURN_IF_ERROR(file.MaybeFlush());
    const int s = static_cast<int>(split);
    positives[s] += label;
    probability_sum += p;
    if (split != DataSplit::kTrain) oracle[s].Add(p, label ? 1.0f : 0.0f);
    if (split == DataSplit::kTest) {
      // The best constant: the train positive rate (known, train rows come first).
      const uint64_t n = result->split_rows[0];
      constant_test.Add(n > 0 ? static_cast<double>(positives[0]) / n : kTargetRate, label);
      // What the best model of the day before scores on this day.
      if (part.yesterday) {
        CtrRow old = r;
        part.yesterday->ComputeTerms(&old);
        stale_test.Add(Sigmoid(part.yesterday->Logit(old)), label);
      }
    }
    if (options.on_row) options.on_row({split, label ? 1.0f : 0.0f, p, 0});
  }
  RETURN_IF_ERROR(files.Close());

  const BinaryMetrics valid = oracle[1].Result(), test = oracle[2].Result();
  OrderedJson json = {{"kind", "ctr"}};
  if (!part.date.empty()) {
    json["day"] = part.date;
    json["drift"] = part.drift;
  }
  json["rows"] = options.rows;
  json["seed"] = options.seed;
  json["train_rows"] = result->split_rows[0];
  json["valid_rows"] = result->split_rows[1];
  json["test_rows"] = result->split_rows[2];
  json["positive_rate"] =
      static_cast<double>(positives[0] + positives[1] + positives[2]) / options.rows;
  json["mean_probability"] = probability_sum / options.rows;
  json["valid_auc"] = valid.auc;
  json["valid_logloss"] = valid.logloss;
  json["test_auc"] = test.auc;
  json["test_logloss"] = test.logloss;
  json["constant_test_logloss"] = constant_test.Result().logloss;
  if (part.yesterday) {
    const BinaryMetrics stale = stale_test.Result();
    json["yesterday_model_test_auc"] = stale.auc;
    json["yesterday_model_test_logloss"] = stale.logloss;
  }
  json["latent_dim"] = kDim;
  result->oracle_json = JsonText(json);
  return Status::Ok();
}

}  // namespace

Status GenerateCtr(const DatagenOptions& options, Env* env, DatagenResult* result) {
  const PlantedCtrModel model(options.seed);
  CtrPart part;
  part.dir = options.out_dir;
  return WriteCtrPart(model, part, options, env, result);
}

Status GenerateCtrDays(const DatagenOptions& options, Env* env, DatagenResult* result) {
  PlantedCtrModel model(options.seed);
  std::unique_ptr<PlantedCtrModel> yesterday;
  for (int day = 0; day < options.days; ++day) {
    if (day > 0) {
      yesterday = std::make_unique<PlantedCtrModel>(model);
      model.Drift(static_cast<uint64_t>(day), options.drift);
    }
    CtrPart part;
    part.date = CivilDate(options.start_day + day);
    part.dir = JoinPath(options.out_dir, "day=" + part.date);
    part.row_offset = static_cast<uint64_t>(day) * options.rows;
    part.yesterday = yesterday.get();
    part.drift = options.drift;
    RETURN_IF_ERROR(env->CreateDir(part.dir));
    RETURN_IF_ERROR(WriteCtrPart(model, part, options, env, result));
    RETURN_IF_ERROR(WriteOracle(env, part.dir, result));
    if (options.on_day) options.on_day(part.dir, result->oracle_json);
  }
  return Status::Ok();
}

}  // namespace datagen
}  // namespace metaps
