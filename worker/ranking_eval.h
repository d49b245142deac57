// Ranking evaluation under a full protocol: each evaluated user's held-out
// items are ranked among items the user did not rate in training, not only
// among each other.
//
// Protocols (training.ranking_protocol):
//   all_unrated  candidates = every catalog item the user did not rate in
//                training, plus the user's held-out items of the split;
//   sampled      the user's held-out items plus `negatives` catalog items the
//                user rated neither in training nor in the split, drawn by a
//                generator seeded with (seed, user) (all of them if fewer).
// The catalog is every item of the training split, in item-id order. A
// held-out item is relevant iff its label >= the relevance threshold; the
// other candidates are not. Users with no relevant held-out item are skipped.
//
// Distribution: every worker reads the WHOLE training split once (cached) and
// the whole evaluated split (cached per split), and ranks the users it owns,
// hash(user) % num_workers. A user's candidates are scored in fixed chunks in a
// fixed order, so the per-user results, and the merged metrics
// (UserRankingAccumulator), are the same bit for bit for any worker count.
//
// Features: a pair (user, item) is scored by the model's Forward on an example
// whose user slots hold the user's keys and whose item slots hold the item's,
// taken from the first example of that user (item) in the training split (or
// in the evaluated split, for one not in training). Other slots stay empty, so
// only models built from a user tower and an item tower (mf, ncf) qualify.
//
// Memory per worker: the catalog (one item-side feature set per item), the
// training items of the owned users (8 bytes a rating, about 1/num_workers of
// the training ratings), the owned users' held-out items per split, and the
// embedding rows of every catalog item and owned user while ranking. For
// MovieLens-25M with one worker: ~20M training ratings, ~160 MB plus hash-map
// overhead. Time: users x catalog forward passes (all_unrated); prefer
// "sampled" when that is too many.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/metrics.h"
#include "common/status.h"
#include "worker/batch.h"
#include "worker/data/reader.h"
#include "worker/model.h"

namespace metaps {

struct RankingEvalOptions {
  int k = 10;
  double relevance_threshold = 3.5;
  std::string protocol = "all_unrated";  // or "sampled"
  int negatives = 100;                   // sampled
  uint64_t seed = 1;
  int worker_index = 0, num_workers = 1;
  int embedding_dim = 16;
  bool linear_table = true;  // the model reads table 1
  std::vector<std::string> user_slots = {"user"}, item_slots = {"item"};
  ReaderOptions reader;  // batch size, threads, bad-line tolerance; shard fields ignored
};

// Fills emb->tables[t].rows for emb->tables[t].keys (every table), e.g. by a
// read-only pull from the parameter servers.
using RowFetcher = std::function<Status(EmbeddingBatch* emb)>;

// Which worker ranks `user`.
int RankingOwner(uint64_t user, int num_workers);

// The name printed beside the figures: "all_unrated" or "sampled_<negatives>".
std::string RankingProtocolName(const std::string& protocol, int negatives);

class RankingEvaluator {
 public:
  explicit RankingEvaluator(RankingEvalOptions options);

  // Reads the whole training split (once; later calls return at once).
  Status LoadTraining(
      const std::function<StatusOr<std::unique_ptr<Reader>>(const ReaderOptions&)>& open_train);
  // Reads the whole split `name` (once per name), keeping the owned users.
  Status LoadSplit(
      const std::string& name,
      const std::function<StatusOr<std::unique_ptr<Reader>>(const ReaderOptions&)>& open_split);
  // Ranks every owned user of split `name` (loaded) and adds them to *out.
  Status Evaluate(const std::string& name, const RowFetcher& fetch, Model* model,
                  const float* dense, UserRankingAccumulator* out);

  std::string protocol_name() const {
    return RankingProtocolName(options_.protocol, options_.negatives);
  }
  size_t catalog_size() const { return catalog_.size(); }

 private:
  // The keys (with values and schema slot) of one side of one example.
  struct Features {
    std::vector<uint32_t> slots;
    std::vector<uint64_t> keys;
    std::vector<float> values;
  };
  struct Heldout {
    std::vector<std::pair<uint64_t, float>> items;  // (item, label), sorted, unique items
  };
  struct Split {
    std::map<uint64_t, Heldout> users;                     // owned users, in id order
    std::unordered_map<uint64_t, Features> items;          // held-out items not in the catalog
    std::unordered_map<uint64_t, Features> user_features;  // owned users not in training
  };

  Status ResolveSlots(const BatchSchema& schema);
  Features SideOf(const Batch& batch, size_t i, const std::vector<int>& slots) const;
  bool Owned(uint64_t user) const {
    return RankingOwner(user, options_.num_workers) == options_.worker_index;
  }
  // Candidate items of `user` in scoring order, and which are relevant.
  void Candidates(uint64_t user, const Heldout& heldout, std::vector<uint64_t>* items,
                  std::vector<bool>* relevant) const;

  RankingEvalOptions options_;
  bool trained_loaded_ = false;
  BatchSchema schema_;
  std::vector<int> user_slots_, item_slots_;
  std::vector<uint64_t> catalog_;                                    // sorted item ids
  std::unordered_map<uint64_t, Features> item_features_;             // catalog items
  std::unordered_map<uint64_t, Features> user_features_;             // owned users seen in training
  std::unordered_map<uint64_t, std::vector<uint64_t>> train_items_;  // owned users, sorted
  std::map<std::string, Split> splits_;
};

}  // namespace metaps
