// RankingEvaluator: ranking held-out items among every unrated item separates
// models that ranking among the held-out items alone cannot, and the merged
// result is the same for any number of workers.
#include "worker/ranking_eval.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "common/hash.h"
#include "kernels/cpu/cpu_backend.h"

namespace metaps {
namespace {

struct Rating {
  uint64_t user, item;
  float label;
};

BatchSchema UserItemSchema() {
  BatchSchema schema;
  schema.slots = {{"user", false}, {"item", false}};
  return schema;
}

uint64_t UserKey(uint64_t user) { return 1000000 + user; }
uint64_t ItemKey(uint64_t item) { return 2000000 + item; }

// Serves `ratings` in order as batches of the requested size.
class VectorReader : public Reader {
 public:
  VectorReader(std::vector<Rating> ratings, size_t batch_size)
      : ratings_(std::move(ratings)), batch_size_(batch_size), schema_(UserItemSchema()) {}
  Status Next(Batch* batch) override {
    batch->Reset(schema_);
    for (; pos_ < ratings_.size() && batch->size() < batch_size_; ++pos_) {
      const Rating& r = ratings_[pos_];
      batch->AddKey(0, UserKey(r.user));
      batch->AddKey(1, ItemKey(r.item));
      batch->FinishExample(r.label, 0, r.user, r.item);
    }
    return Status::Ok();
  }
  const BatchSchema& schema() const override { return schema_; }
  const ReaderStats& stats() const override { return stats_; }

 private:
  std::vector<Rating> ratings_;
  size_t batch_size_, pos_ = 0;
  BatchSchema schema_;
  ReaderStats stats_;
};

std::function<StatusOr<std::unique_ptr<Reader>>(const ReaderOptions&)> Open(
    std::vector<Rating> ratings) {
  return [ratings](const ReaderOptions& o) -> StatusOr<std::unique_ptr<Reader>> {
    return std::unique_ptr<Reader>(new VectorReader(ratings, o.batch_size));
  };
}

// Rows by key: table 0 (dim) from `embedding`, table 1 from `bias` (0 if absent).
RowFetcher Rows(std::function<float(uint64_t key, int j)> embedding,
                std::map<uint64_t, float> bias) {
  return [embedding, bias](EmbeddingBatch* emb) -> Status {
    for (TableRows& t : emb->tables) {
      for (size_t i = 0; i < t.keys.size(); ++i) {
        for (int j = 0; j < t.dim; ++j) {
          auto it = bias.find(t.keys[i]);
          t.rows[i * t.dim + j] =
              t.table_id == 0 ? embedding(t.keys[i], j) : (it == bias.end() ? 0.0f : it->second);
        }
      }
    }
    return Status::Ok();
  };
}

class RankingEvalTest : public ::testing::Test {
 protected:
  std::unique_ptr<Model> Mf(int dim) {
    ModelOptions o;
    o.family = "mf";
    o.embedding_dim = dim;
    o.loss = LossKind::kSquared;
    auto model = CreateModel(o, UserItemSchema(), backend_.get());
    EXPECT_TRUE(model.ok()) << model.status();
    return std::move(model).value();
  }
  RankingEvalOptions Options(int dim, const std::string& protocol = "all_unrated") {
    RankingEvalOptions o;
    o.k = 1;
    o.relevance_threshold = 3.5;
    o.protocol = protocol;
    o.embedding_dim = dim;
    o.reader.batch_size = 3;
    return o;
  }
  std::unique_ptr<KernelBackend> backend_ = MakeCpuBackend();
};

TEST_F(RankingEvalTest, UnratedItemsSeparateModelsThatHeldoutOnlyRankingTies) {
  // Items 1..6. User 1 rated 1, 2 in training; user 2 rated 3, 4; user 3 rated 5, 6.
  const std::vector<Rating> train = {{1, 1, 4}, {1, 2, 3}, {2, 3, 5},
                                     {2, 4, 2}, {3, 5, 4}, {3, 6, 4}};
  // Held out: user 1 loves 3 and dislikes 5; user 2 loves 1.
  const std::vector<Rating> test = {{1, 3, 5}, {1, 5, 1}, {2, 1, 5}};
  // Zero embeddings and user biases, mu = 0: a pair scores its item's bias.
  // Both models put the held-out items in the same order (3 above 5; 1 alone);
  // the bad one puts unrated items 2, 4, 6 above them.
  const std::map<uint64_t, float> good = {{ItemKey(1), 0.9f}, {ItemKey(2), 0.3f},
                                          {ItemKey(3), 1.0f}, {ItemKey(4), 0.1f},
                                          {ItemKey(5), 0.0f}, {ItemKey(6), 0.2f}};
  std::map<uint64_t, float> bad = good;
  bad[ItemKey(2)] = 2.5f;
  bad[ItemKey(4)] = 2.0f;
  bad[ItemKey(6)] = 3.0f;
  auto zero = [](uint64_t, int) { return 0.0f; };
  auto model = Mf(2);
  const float mu = 0.0f;

  RankingMetrics full[2], heldout[2];
  for (int m = 0; m < 2; ++m) {
    const auto& bias = m == 0 ? good : bad;
    RankingEvaluator eval(Options(2));
    ASSERT_TRUE(eval.LoadTraining(Open(train)).ok());
    ASSERT_TRUE(eval.LoadSplit("test", Open(test)).ok());
    EXPECT_EQ(eval.catalog_size(), 6u);
    UserRankingAccumulator acc(1, eval.protocol_name());
    ASSERT_TRUE(eval.Evaluate("test", Rows(zero, bias), model.get(), &mu, &acc).ok());
    full[m] = acc.Result();
    RankingMetricsAccumulator only(1, 3.5);
    for (const Rating& r : test) only.Add(r.user, bias.at(ItemKey(r.item)), r.label);
    heldout[m] = only.Result();
  }
  // Held-out-only ranking cannot tell them apart...
  EXPECT_EQ(heldout[0].ndcg, 1.0);
  EXPECT_EQ(heldout[1].ndcg, heldout[0].ndcg);
  EXPECT_EQ(heldout[1].hit_rate, heldout[0].hit_rate);
  // ...ranking among the unrated items can.
  EXPECT_EQ(full[0].users, 2u);
  EXPECT_EQ(full[0].hit_rate, 1.0);
  EXPECT_EQ(full[0].ndcg, 1.0);
  EXPECT_EQ(full[1].hit_rate, 0.0);
  EXPECT_EQ(full[1].ndcg, 0.0);
  // User 1 ranks 3, 5 (held out) and 4, 6 (unrated); user 2 ranks 1 and 2, 5, 6.
  EXPECT_EQ(full[0].candidates, 8u);
}

// Many users with random rows: the union of the workers' users gives the
// same metrics, bit for bit, as one worker, for both protocols.
TEST_F(RankingEvalTest, SameResultForAnyWorkerCount) {
  std::mt19937 rng(11);
  std::vector<Rating> train, test;
  for (uint64_t user = 1; user <= 60; ++user) {
    for (int i = 0; i < 25; ++i) {
      const uint64_t item = 1 + rng() % 300;
      const float label = 1.0f + static_cast<float>(rng() % 5);
      (rng() % 5 == 0 ? test : train).push_back({user, item, label});
    }
  }
  test.push_back({61, 1000, 5});  // a user and an item only in the test split
  const int dim = 4;
  auto embedding = [](uint64_t key, int j) {
    return BitsToNormal(StreamBits(Mix64(key), static_cast<uint64_t>(j))) * 0.5f;
  };
  std::map<uint64_t, float> bias;
  for (uint64_t item = 1; item <= 300; ++item) bias[ItemKey(item)] = 0.01f * (item % 17);
  auto model = Mf(dim);
  const float mu = 3.0f;
  for (const std::string protocol : {"all_unrated", "sampled"}) {
    RankingMetrics results[3];
    for (int workers : {1, 2, 3}) {
      UserRankingAccumulator merged(1, "");
      for (int w = 0; w < workers; ++w) {
        RankingEvalOptions o = Options(dim, protocol);
        o.k = 10;
        o.negatives = 50;
        o.worker_index = w;
        o.num_workers = workers;
        RankingEvaluator eval(o);
        ASSERT_TRUE(eval.LoadTraining(Open(train)).ok());
        ASSERT_TRUE(eval.LoadSplit("test", Open(test)).ok());
        UserRankingAccumulator part(10, eval.protocol_name());
        ASSERT_TRUE(eval.Evaluate("test", Rows(embedding, bias), model.get(), &mu, &part).ok());
        if (w == 0) {
          merged = part;
        } else {
          ASSERT_TRUE(merged.Merge(part).ok());
        }
      }
      results[workers - 1] = merged.Result();
      EXPECT_EQ(merged.protocol(), protocol == "sampled" ? "sampled_50" : "all_unrated");
    }
    EXPECT_GT(results[0].users, 40u) << protocol;
    for (int i = 1; i < 3; ++i) {
      EXPECT_EQ(results[i].users, results[0].users) << protocol;
      EXPECT_EQ(results[i].candidates, results[0].candidates) << protocol;
      EXPECT_EQ(results[i].ndcg, results[0].ndcg) << protocol;
      EXPECT_EQ(results[i].recall, results[0].recall) << protocol;
      EXPECT_EQ(results[i].precision, results[0].precision) << protocol;
      EXPECT_EQ(results[i].hit_rate, results[0].hit_rate) << protocol;
    }
    if (protocol == "sampled") {
      // Each ranked user: its distinct held-out items plus 50 sampled ones.
      std::map<uint64_t, std::set<uint64_t>> heldout;
      std::set<uint64_t> relevant_users;
      for (const Rating& r : test) {
        heldout[r.user].insert(r.item);
        if (r.label >= 3.5f) relevant_users.insert(r.user);
      }
      uint64_t want = 0;
      for (uint64_t user : relevant_users) want += heldout[user].size() + 50;
      EXPECT_EQ(results[0].users, relevant_users.size());
      EXPECT_EQ(results[0].candidates, want);
    }
  }
}

TEST_F(RankingEvalTest, ErrorsNameTheProblem) {
  RankingEvalOptions o = Options(2);
  o.item_slots = {"movie"};
  RankingEvaluator eval(o);
  const Status s = eval.LoadTraining(Open({{1, 1, 4}}));
  EXPECT_NE(s.message().find("item_slots names slot 'movie'"), std::string::npos) << s;
  RankingEvaluator no_ids(Options(2));
  const Status t = no_ids.LoadTraining(Open({{1, 0, 4}}));
  EXPECT_NE(t.message().find("needs item ids"), std::string::npos) << t;
}

}  // namespace
}  // namespace metaps
