// Meta-learning pieces (worker/meta): the task index and its splits, the
// inner loop and the outer signals against hand-computed examples, per-task
// query metrics, and the scheduler's meta-batch sampling and balancing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "common/control.h"
#include "common/job_config.h"
#include "common/task_metrics.h"
#include "kernels/cpu/cpu_backend.h"
#include "scheduler/meta_job.h"
#include "worker/meta/meta_trainer.h"
#include "worker/meta/task_index.h"
#include "worker/meta/task_step.h"

namespace metaps {
namespace {

BatchSchema UserItemSchema() {
  BatchSchema schema;
  schema.slots = {{"user", false}, {"item", false}};
  return schema;
}

void AddRating(Batch* b, uint64_t user, uint64_t item, float rating, int64_t time) {
  b->AddKey(0, 1000 + user);
  b->AddKey(1, 2000 + item);
  b->FinishExample(rating, 0, user, item, time);
}

config::MetaConfig Meta(const std::string& extra = "") {
  auto job = ParseJobConfig(
      "data { format: \"movielens\" } model { family: \"mf\" } meta { query: 2 min_task_size: 3 "
      "max_task_size: 6 " +
          extra + "}",
      "test");
  EXPECT_TRUE(job.ok()) << job.status();
  return job->meta();
}

// Users 0..199 with 1..8 ratings each, at shuffled times.
Batch Ratings(uint32_t seed) {
  std::mt19937 rng(seed);
  Batch b;
  b.Reset(UserItemSchema());
  std::vector<std::tuple<uint64_t, uint64_t, int64_t>> rows;
  for (uint64_t u = 0; u < 200; ++u) {
    const int n = 1 + static_cast<int>(u % 8);
    for (int i = 0; i < n; ++i) rows.emplace_back(u, u * 10 + i, (u * 7919 + i * 104729) % 1000);
  }
  std::shuffle(rows.begin(), rows.end(), rng);
  for (auto& [u, item, t] : rows) AddRating(&b, u, item, static_cast<float>(1 + item % 5), t);
  return b;
}

TEST(TaskIndexTest, SizesSplitsAndSupportBeforeQuery) {
  const Batch data = Ratings(1);
  auto index = BuildTaskIndex(data, Meta(), 7);
  ASSERT_TRUE(index.ok()) << index.status();
  // Users with u % 8 + 1 in [3, 6] are kept: 4 of every 8.
  EXPECT_EQ(index->tasks.size(), 100u);
  EXPECT_EQ(index->dropped_small, 50u);  // 1 or 2 ratings
  EXPECT_EQ(index->dropped_large, 50u);  // 7 or 8
  EXPECT_EQ(index->train.size() + index->valid.size() + index->test.size(), 100u);
  EXPECT_GT(index->train.size(), 60u);
  EXPECT_GT(index->valid.size() + index->test.size(), 5u);
  for (const MetaTask& t : index->tasks) {
    ASSERT_EQ(t.query.size(), 2u);
    EXPECT_EQ(t.size(), t.id % 8 + 1);
    std::set<uint32_t> seen;
    int64_t last_support = -1;
    for (uint32_t p : t.support) {
      EXPECT_EQ(data.user_ids[p], t.id);
      EXPECT_TRUE(seen.insert(p).second);
      last_support = std::max(last_support, data.timestamps[p]);
    }
    for (uint32_t p : t.query) {
      EXPECT_EQ(data.user_ids[p], t.id);
      EXPECT_TRUE(seen.insert(p).second) << "a query example is also in support";
      EXPECT_GE(data.timestamps[p], last_support) << "a support example is after a query one";
    }
    EXPECT_EQ(t.split, SplitOfTask(7, t.id, 0.1, 0.1));
  }
}

// "Both new": a meta-valid or meta-test user's query examples on items that
// no meta-train user rated, exactly; meta-train tasks have none.
TEST(TaskIndexTest, BothNewMarksQueryItemsNoTrainTaskHas) {
  Batch data;
  data.Reset(UserItemSchema());
  // Every user rates items 0..3 (shared) and then 1000 + u, 2000 + u (own).
  for (uint64_t u = 0; u < 200; ++u) {
    for (uint64_t k = 0; k < 4; ++k) AddRating(&data, u, k, 3.0f, static_cast<int64_t>(k));
    AddRating(&data, u, 1000 + u, 4.0f, 10);
    AddRating(&data, u, 2000 + (u % 50), 5.0f, 11);  // shared by users u, u+50, ...
  }
  auto index = BuildTaskIndex(data, Meta(), 7);
  ASSERT_TRUE(index.ok()) << index.status();
  std::set<uint64_t> train_items;
  for (uint32_t t : index->train) {
    for (const auto* part : {&index->tasks[t].support, &index->tasks[t].query}) {
      for (uint32_t p : *part) train_items.insert(data.item_ids[p]);
    }
  }
  size_t marked = 0;
  for (const MetaTask& t : index->tasks) {
    ASSERT_EQ(t.query.size(), 2u);  // the own item (time 10), then 2000 + u % 50
    std::set<uint32_t> want;
    if (t.split != TaskSplit::kTrain) {
      for (uint32_t i = 0; i < t.query.size(); ++i) {
        if (!train_items.count(data.item_ids[t.query[i]])) want.insert(i);
      }
    }
    EXPECT_EQ(std::set<uint32_t>(t.query_both_new.begin(), t.query_both_new.end()), want)
        << "task " << t.id;
    // A user's own item 1000 + u is new unless the user is a meta-train one.
    if (t.split != TaskSplit::kTrain) {
      EXPECT_TRUE(want.count(0)) << t.id;
      marked += want.size();
    }
  }
  EXPECT_GT(marked, 0u);
}

// k-shot training episodes: meta-train tasks take their first k examples by
// time as support; meta-valid and meta-test tasks keep the last-`query` split.
TEST(TaskIndexTest, TrainSupportMakesKShotTrainingEpisodes) {
  const Batch data = Ratings(1);
  auto index = BuildTaskIndex(data, Meta("train_support: 1"), 7);
  ASSERT_TRUE(index.ok()) << index.status();
  for (const MetaTask& t : index->tasks) {
    if (t.split == TaskSplit::kTrain) {
      EXPECT_EQ(t.support.size(), 1u);
      EXPECT_EQ(t.query.size(), t.size() - 1);
    } else {
      EXPECT_EQ(t.query.size(), 2u);
    }
  }
  EXPECT_FALSE(ParseJobConfig("data { format: \"movielens\" } model { family: \"mf\" } "
                              "meta { min_task_size: 13 train_support: 13 }",
                              "j")
                   .ok());
  // k-shot evaluation: meta-valid and meta-test tasks keep their first k
  // examples by time as support and their last `query` as query.
  auto shots = BuildTaskIndex(data, Meta("eval_support: 1"), 7);
  ASSERT_TRUE(shots.ok()) << shots.status();
  for (const MetaTask& t : shots->tasks) {
    if (t.split == TaskSplit::kTrain) continue;
    ASSERT_EQ(t.support.size(), 1u);
    ASSERT_EQ(t.query.size(), 2u);
    for (uint32_t p : t.query) EXPECT_GE(data.timestamps[p], data.timestamps[t.support[0]]);
  }
  EXPECT_FALSE(ParseJobConfig("data { format: \"movielens\" } model { family: \"mf\" } "
                              "meta { min_task_size: 13 query: 10 eval_support: 4 }",
                              "j")
                   .ok());
}

// The same tasks, splits and support/query examples for any data order: each
// worker reads all the data, so 1 or 3 workers build this same index.
TEST(TaskIndexTest, IndependentOfDataOrderAndRerun) {
  auto describe = [](const Batch& data) {
    auto index = BuildTaskIndex(data, Meta(), 3).value();
    std::map<uint64_t, std::tuple<int, std::multiset<uint64_t>, std::multiset<uint64_t>>> out;
    for (const MetaTask& t : index.tasks) {
      std::multiset<uint64_t> s, q;
      for (uint32_t p : t.support) s.insert(data.item_ids[p]);
      for (uint32_t p : t.query) q.insert(data.item_ids[p]);
      out[t.id] = {static_cast<int>(t.split), s, q};
    }
    return out;
  };
  const Batch a = Ratings(1), b = Ratings(2);
  EXPECT_EQ(describe(a), describe(b));
  EXPECT_EQ(BuildTaskIndex(a, Meta(), 3)->Digest(), BuildTaskIndex(a, Meta(), 3)->Digest());
  EXPECT_NE(BuildTaskIndex(a, Meta(), 3)->Digest(), BuildTaskIndex(a, Meta(), 4)->Digest());
  // A task with more than min_task_size - query examples of support only: none.
  Batch tiny;
  tiny.Reset(UserItemSchema());
  AddRating(&tiny, 1, 1, 3, 0);
  EXPECT_FALSE(BuildTaskIndex(tiny, Meta(), 1).ok());
}

// One task: support (A, 4), (B, 2), query (A, 5); dim 1 mf
// r = u v + b_u + b_i + mu with loss (r - y)^2; the user's key replaced by
// the shared one; u_S 0.5, v_A 1, v_B -1, b_S 0, b_A 0.1, b_B 0.2, mu 3.
class TaskStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = MakeCpuBackend();
    ModelOptions o;
    o.family = "mf";
    o.embedding_dim = 1;
    o.loss = LossKind::kSquared;
    model_ = CreateModel(o, UserItemSchema(), backend_.get()).value();
    data_.Reset(UserItemSchema());
    AddRating(&data_, 9, 1, 4, 0);  // A
    AddRating(&data_, 9, 2, 2, 1);  // B
    AddRating(&data_, 9, 1, 5, 2);  // A
    task_.Build(data_, UserItemSchema(), {0, 1}, {2}, /*task_slot=*/0, true, SharedTaskKey(0), 1,
                model_.get(), &builder_);
    Set(SharedTaskKey(0), 0.5f, 0.0f);
    Set(2001, 1.0f, 0.1f);
    Set(2002, -1.0f, 0.2f);
    dense_ = {3.0f};
  }
  size_t Row(uint64_t key) const {
    const auto& keys = task_.emb.tables[0].keys;
    return static_cast<size_t>(std::find(keys.begin(), keys.end(), key) - keys.begin());
  }
  void Set(uint64_t key, float v, float b) {
    task_.emb.tables[0].rows[Row(key)] = v;
    task_.emb.tables[1].rows[Row(key)] = b;
  }
  float Grad(int table, uint64_t key) const { return task_.emb.tables[table].grads[Row(key)]; }
  float Value(int table, uint64_t key) const { return task_.emb.tables[table].rows[Row(key)]; }

  std::unique_ptr<KernelBackend> backend_;
  std::unique_ptr<Model> model_;
  Batch data_;
  TaskBatch task_;
  EmbeddingBatchBuilder builder_;
  std::vector<float> dense_;
  const float no_decay_[2] = {0, 0};
};

TEST_F(TaskStepTest, BuildSharesOneKeySetAndSplitsIndices) {
  ASSERT_EQ(task_.emb.tables[0].keys.size(), 3u);  // S, A, B
  EXPECT_EQ(task_.task_rows, std::vector<uint32_t>{static_cast<uint32_t>(Row(SharedTaskKey(0)))});
  task_.Use(TaskPart::kQuery);
  ASSERT_EQ(task_.emb.row_index[1].size(), 1u);
  EXPECT_EQ(task_.emb.row_index[1][0], Row(2001));
  task_.Use(TaskPart::kSupport);
  ASSERT_EQ(task_.emb.row_index[1].size(), 2u);
  EXPECT_EQ(task_.emb.row_index[1][1], Row(2002));
  task_.Use(TaskPart::kAll);
  EXPECT_EQ(task_.emb.row_index[1].size(), 3u);
}

// The cold-start scores of the task above: the query (A, 5) predicted 3.6
// before and 3.702 after the two inner steps; the "both new" subset of the
// query (here all of it) scores the same, and no subset scores nothing.
TEST_F(TaskStepTest, ScoreTaskScoresTheQueryAndItsBothNewSubset) {
  InnerLoop loop{2, 0.1f, AdaptScope::kDenseAndTaskRow};
  auto metric = [](const std::vector<std::pair<std::string, double>>& m, const std::string& name) {
    for (const auto& [k, v] : m) {
      if (k == name) return v;
    }
    return -1.0;
  };
  TaskBatch copy = task_;
  auto plain = ScoreTask(model_.get(), &copy, loop, dense_, /*logistic=*/false);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_NEAR(metric(plain->before, "mae"), 1.4, 1e-5);
  EXPECT_NEAR(metric(plain->adapted, "mae"), 1.298, 1e-5);
  EXPECT_TRUE(plain->both_new_before.empty());
  EXPECT_TRUE(plain->both_new_adapted.empty());
  copy = task_;
  auto subset = ScoreTask(model_.get(), &copy, loop, dense_, false, nullptr, {0});
  ASSERT_TRUE(subset.ok()) << subset.status();
  EXPECT_EQ(subset->both_new_before, plain->before);
  EXPECT_EQ(subset->both_new_adapted, plain->adapted);
}

// Two inner steps (lr 0.1) adapt u_S, b_S and mu only:
//   step 1: e = (-0.4, 0.7): u_S 0.61, b_S -0.03, mu 2.97
//   step 2: e = (-0.35, 0.53): u_S 0.698, b_S -0.048, mu 2.952
// query at the adapted weights: z 3.702, e -1.298, dz = -2.596.
TEST_F(TaskStepTest, FomamlTwoStepsByHand) {
  InnerLoop loop{2, 0.1f, AdaptScope::kDenseAndTaskRow};
  std::vector<float> adapted = dense_;
  {
    TaskBatch copy = task_;
    ASSERT_TRUE(Adapt(model_.get(), &copy, TaskPart::kSupport, loop, &adapted).ok());
    std::swap(copy, task_);
    EXPECT_NEAR(Value(0, SharedTaskKey(0)), 0.698f, 1e-5);
    EXPECT_NEAR(Value(1, SharedTaskKey(0)), -0.048f, 1e-5);
    EXPECT_NEAR(Value(0, 2001), 1.0f, 0) << "an item row moved under dense_and_task_row";
    EXPECT_NEAR(adapted[0], 2.952f, 1e-5);
    std::swap(copy, task_);
  }
  std::vector<float> signal;
  auto loss =
      OuterSignal(model_.get(), &task_, MetaAlgorithm::kFomaml, loop, &dense_, no_decay_, &signal);
  ASSERT_TRUE(loss.ok()) << loss.status();
  EXPECT_NEAR(*loss, 1.298 * 1.298, 1e-4);
  EXPECT_NEAR(Grad(0, SharedTaskKey(0)), -2.596f, 1e-4);  // dz * v_A
  EXPECT_NEAR(Grad(0, 2001), -2.596f * 0.698f, 1e-4);     // dz * adapted u_S
  EXPECT_NEAR(Grad(1, SharedTaskKey(0)), -2.596f, 1e-4);
  EXPECT_NEAR(Grad(1, 2001), -2.596f, 1e-4);
  EXPECT_EQ(Grad(0, 2002), 0.0f);  // B is not in the query
  EXPECT_EQ(Grad(1, 2002), 0.0f);
  EXPECT_NEAR(signal[0], -2.596f, 1e-4);
  // The weights are back to the initial ones.
  EXPECT_EQ(Value(0, SharedTaskKey(0)), 0.5f);
  EXPECT_EQ(dense_[0], 3.0f);
}

// Reptile: two steps of lr 0.1 on support + query with every weight adapted;
// signal = (initial - adapted) / 0.2 (worked out in double precision).
TEST_F(TaskStepTest, ReptileTwoStepsByHand) {
  InnerLoop loop{2, 0.1f, AdaptScope::kAll};
  std::vector<float> signal;
  auto loss =
      OuterSignal(model_.get(), &task_, MetaAlgorithm::kReptile, loop, &dense_, no_decay_, &signal);
  ASSERT_TRUE(loss.ok()) << loss.status();
  EXPECT_NEAR(*loss, 0.490848306, 1e-4);  // the query's loss at the adapted weights
  EXPECT_NEAR(Grad(0, SharedTaskKey(0)), -1.345575309, 1e-4);
  EXPECT_NEAR(Grad(0, 2001), -0.48962963, 1e-4);
  EXPECT_NEAR(Grad(0, 2002), 0.253950617, 1e-4);
  EXPECT_NEAR(Grad(1, SharedTaskKey(0)), -0.445185185, 1e-4);
  EXPECT_NEAR(Grad(1, 2001), -0.884444444, 1e-4);
  EXPECT_NEAR(Grad(1, 2002), 0.439259259, 1e-4);
  EXPECT_NEAR(signal[0], -0.445185185, 1e-4);
  EXPECT_EQ(Value(1, 2002), 0.2f);
  EXPECT_EQ(dense_[0], 3.0f);
}

// Identities that hold for any family: FOMAML without inner steps is the
// query gradient at the initial weights, "none" is the gradient on support +
// query, and one Reptile step on everything is that same gradient.
TEST(TaskStepIdentities, HoldForMfAndNcf) {
  auto backend = MakeCpuBackend();
  for (const char* family : {"mf", "ncf"}) {
    ModelOptions o;
    o.family = family;
    o.embedding_dim = 4;
    o.loss = LossKind::kSquared;
    if (std::string(family) == "ncf") o.hidden = {3};
    auto model = CreateModel(o, UserItemSchema(), backend.get()).value();
    Batch data = Ratings(5);
    const MetaTask task = BuildTaskIndex(data, Meta(), 1)->tasks[3];
    TaskBatch t;
    EmbeddingBatchBuilder builder;
    t.Build(data, UserItemSchema(), task.support, task.query, 0, false, 0, 4, model.get(),
            &builder);
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0, 0.3f);
    for (auto& table : t.emb.tables) {
      for (float& v : table.rows) v = normal(rng);
    }
    std::vector<float> dense(model->num_dense());
    model->InitDense(1, dense.data());
    const float decay[2] = {0, 0};
    auto gradient = [&](TaskPart part) {
      TaskBatch c = t;
      c.Use(part);
      for (auto& table : c.emb.tables) std::fill(table.grads.begin(), table.grads.end(), 0.0f);
      std::vector<float> g(dense.size()), p(c.examples(part).size());
      EXPECT_TRUE(
          model->ForwardBackward(c.examples(part), c.emb, dense.data(), g.data(), p.data()).ok());
      std::vector<float> all(g);
      for (auto& table : c.emb.tables)
        all.insert(all.end(), table.grads.begin(), table.grads.end());
      return all;
    };
    auto signal = [&](MetaAlgorithm a, InnerLoop loop) {
      TaskBatch c = t;
      std::vector<float> d = dense, s;
      EXPECT_TRUE(OuterSignal(model.get(), &c, a, loop, &d, decay, &s).ok());
      EXPECT_EQ(d, dense);
      for (auto& table : c.emb.tables) s.insert(s.end(), table.grads.begin(), table.grads.end());
      return s;
    };
    auto near = [&](const std::vector<float>& a, const std::vector<float>& b) {
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-4) << family << " " << i;
    };
    near(signal(MetaAlgorithm::kFomaml, {0, 0.1f, AdaptScope::kAll}), gradient(TaskPart::kQuery));
    near(signal(MetaAlgorithm::kNone, {5, 0.1f, AdaptScope::kAll}), gradient(TaskPart::kAll));
    near(signal(MetaAlgorithm::kReptile, {1, 0.01f, AdaptScope::kAll}), gradient(TaskPart::kAll));
  }
}

TEST(TaskMetricsTest, PerTaskValues) {
  const float pred[3] = {4, 2, 3}, labels[3] = {5, 1, 3};
  auto m = TaskQueryMetrics(pred, labels, 3, false);
  std::map<std::string, double> got(m.begin(), m.end());
  EXPECT_NEAR(got["mae"], 2.0 / 3, 1e-12);
  EXPECT_NEAR(got["rmse"], std::sqrt(2.0 / 3), 1e-12);
  EXPECT_NEAR(got["ndcg@1"], 1.0, 1e-12);  // the top prediction is the best item
  const float clicks_p[4] = {0.9f, 0.2f, 0.6f, 0.6f}, clicks[4] = {1, 0, 0, 1};
  auto c = TaskQueryMetrics(clicks_p, clicks, 4, true);
  std::map<std::string, double> cm(c.begin(), c.end());
  EXPECT_NEAR(cm["auc"], (1 + 1 + 1 + 0.5) / 4, 1e-12);
  EXPECT_NEAR(cm["accuracy"], 0.75, 1e-12);
  // A diverged model: no hang, no ranking metric, NaN errors printed as null.
  const float nan_p[4] = {NAN, 0.2f, NAN, 0.6f};
  auto diverged = TaskQueryMetrics(nan_p, clicks, 4, true);
  EXPECT_TRUE(std::none_of(diverged.begin(), diverged.end(),
                           [](const auto& kv) { return kv.first == "auc"; }));
  EXPECT_NE(JsonText(TaskMetricsJson(diverged)).find("\"logloss\":null"), std::string::npos)
      << JsonText(TaskMetricsJson(diverged));
  auto diverged_ratings = TaskQueryMetrics(nan_p, labels, 3, false);
  EXPECT_EQ(diverged_ratings.size(), 2u);  // mae and rmse, no ndcg
  EXPECT_EQ(JsonText(TaskMetricsJson({{"mae", 0.1}, {"rmse", 2.5}})), "{\"mae\":0.1,\"rmse\":2.5}");
  const float one_class[2] = {1, 1};
  auto single = TaskQueryMetrics(clicks_p, one_class, 2, true);
  EXPECT_TRUE(
      std::none_of(single.begin(), single.end(), [](const auto& kv) { return kv.first == "auc"; }));
}

TEST(MetaBatchTest, SampledByStepAloneAndBalanced) {
  auto a = SampleMetaBatch(1, 5, 100, 10);
  EXPECT_EQ(a, SampleMetaBatch(1, 5, 100, 10));
  EXPECT_NE(a, SampleMetaBatch(1, 6, 100, 10));
  EXPECT_EQ(std::set<uint32_t>(a.begin(), a.end()).size(), 10u);
  for (uint32_t t : a) EXPECT_LT(t, 100u);
  EXPECT_EQ(SampleMetaBatch(1, 0, 4, 10), (std::vector<uint32_t>{0, 1, 2, 3}));
  const std::vector<uint32_t> sizes = {10, 9, 8, 1, 1, 1};
  auto dealt = BalanceTasks({0, 1, 2, 3, 4, 5}, sizes, 3);
  ASSERT_EQ(dealt.size(), 3u);
  EXPECT_EQ(dealt[0], (std::vector<uint32_t>{0}));
  EXPECT_EQ(dealt[1], (std::vector<uint32_t>{1, 4}));
  EXPECT_EQ(dealt[2], (std::vector<uint32_t>{2, 3, 5}));
}

TEST(MetaControlTest, MessagesAreChecked) {
  control::MetaBatch b;
  b.add_workers()->add_tasks(3);
  b.add_workers();
  EXPECT_TRUE(DecodeMetaBatch(EncodeMetaBatch(b), 2, 4, "x").ok());
  EXPECT_EQ(DecodeMetaBatch(EncodeMetaBatch(b), 2, 3, "x").status().code(),
            StatusCode::kProtocolError);  // task 3 of 3
  EXPECT_EQ(DecodeMetaBatch(EncodeMetaBatch(b), 3, 4, "x").status().code(),
            StatusCode::kProtocolError);  // workers
  control::MetaEvalPartial p;
  p.set_tasks(2);
  auto* s = p.add_before();
  s->set_name("mae");
  s->set_sum(1.5);
  s->set_count(2);
  const auto names = MetaTaskMetricNames(false);
  EXPECT_TRUE(DecodeMetaEvalPartial(EncodeMetaEvalPartial(p), names, "x").ok());
  s->set_count(3);
  EXPECT_FALSE(DecodeMetaEvalPartial(EncodeMetaEvalPartial(p), names, "x").ok());
  s->set_count(2);
  s->set_name("auc");  // not a squared-loss task metric
  EXPECT_FALSE(DecodeMetaEvalPartial(EncodeMetaEvalPartial(p), names, "x").ok());
  *p.add_before() = *s;  // the same metric twice
  EXPECT_FALSE(DecodeMetaEvalPartial(EncodeMetaEvalPartial(p), names, "x").ok());
  p.mutable_before()->RemoveLast();
  s = p.mutable_before(0);
  s->set_name("mae");
  s->set_sum(NAN);  // a diverged model: reported, not refused
  EXPECT_TRUE(DecodeMetaEvalPartial(EncodeMetaEvalPartial(p), names, "x").ok());
  s->set_count(-1);
  EXPECT_FALSE(DecodeMetaEvalPartial(EncodeMetaEvalPartial(p), names, "x").ok());
  s->set_count(2);
  // "Both new" sums: counted against both_new_tasks, itself at most tasks.
  p.set_both_new_tasks(1);
  auto* b_new = p.add_both_new_adapted();
  b_new->set_name("mae");
  b_new->set_sum(0.5);
  b_new->set_count(1);
  EXPECT_TRUE(DecodeMetaEvalPartial(EncodeMetaEvalPartial(p), names, "x").ok());
  b_new->set_count(2);  // more than both_new_tasks
  EXPECT_FALSE(DecodeMetaEvalPartial(EncodeMetaEvalPartial(p), names, "x").ok());
  b_new->set_count(1);
  b_new->set_name("auc");
  EXPECT_FALSE(DecodeMetaEvalPartial(EncodeMetaEvalPartial(p), names, "x").ok());
  b_new->set_name("mae");
  p.set_both_new_tasks(3);  // more than tasks
  EXPECT_FALSE(DecodeMetaEvalPartial(EncodeMetaEvalPartial(p), names, "x").ok());
  control::MetaIndex index;
  EXPECT_FALSE(DecodeMetaIndex(EncodeMetaIndex(index), "x").ok());  // no meta-train task
  index.add_train_sizes(5);
  EXPECT_TRUE(DecodeMetaIndex(EncodeMetaIndex(index), "x").ok());
}

TEST(MetaConfigTest, DefaultsAndChecks) {
  const config::MetaConfig m = Meta();
  EXPECT_EQ(m.algorithm(), "fomaml");
  EXPECT_EQ(m.adapt(), "dense_and_task_row");
  EXPECT_TRUE(m.shared_task_row());
  auto bad = ParseJobConfig("data { format: \"criteo\" } model { family: \"deepfm\" } meta { }",
                            "job.pbtxt");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("model.family"), std::string::npos);
  bad = ParseJobConfig(
      "data { format: \"movielens\" } model { family: \"mf\" } meta { query: 20 min_task_size: 13 "
      "}",
      "j");
  EXPECT_NE(bad.status().message().find("meta.min_task_size"), std::string::npos);
  bad = ParseJobConfig(
      "data { format: \"movielens\" } model { family: \"mf\" } meta { algorithm: \"reptile\" }",
      "j");
  EXPECT_NE(bad.status().message().find("meta.adapt"), std::string::npos) << bad.status();
  // Fields of the training loop that meta-train does not read are refused.
  bad = ParseJobConfig(
      "data { format: \"movielens\" } model { family: \"mf\" } training { eval_every: 5 } "
      "meta { }",
      "j");
  EXPECT_NE(bad.status().message().find("training.eval_every: meta-train uses meta.eval_every"),
            std::string::npos)
      << bad.status();
}

}  // namespace
}  // namespace metaps
