#include "worker/ranking_eval.h"

#include <algorithm>
#include <random>
#include <unordered_set>

#include "common/hash.h"

namespace metaps {
namespace {

// Pairs scored per Model::Forward call. Fixed: a user's chunks, hence its
// scores, do not depend on anything but the user.
constexpr size_t kChunk = 1024;

template <typename T>
bool Contains(const std::vector<T>& sorted, const T& x) {
  return std::binary_search(sorted.begin(), sorted.end(), x);
}

}  // namespace

int RankingOwner(uint64_t user, int num_workers) {
  if (num_workers <= 1) return 0;
  return static_cast<int>(Mix64(user ^ 0x52414e4b494e47ULL) % static_cast<uint64_t>(num_workers));
}

std::string RankingProtocolName(const std::string& protocol, int negatives) {
  return protocol == "sampled" ? "sampled_" + std::to_string(negatives) : protocol;
}

RankingEvaluator::RankingEvaluator(RankingEvalOptions options) : options_(std::move(options)) {
  options_.reader.worker_index = 0;  // every worker reads the whole split
  options_.reader.num_workers = 1;
}

Status RankingEvaluator::ResolveSlots(const BatchSchema& schema) {
  schema_ = schema;
  user_slots_.clear();
  item_slots_.clear();
  for (int side = 0; side < 2; ++side) {
    const auto& names = side == 0 ? options_.user_slots : options_.item_slots;
    auto& out = side == 0 ? user_slots_ : item_slots_;
    for (const std::string& name : names) {
      const int s = schema.SlotIndex(name);
      if (s < 0) {
        return InvalidArgument(std::string("ranking: model.") +
                               (side == 0 ? "user_slots" : "item_slots") + " names slot '" + name +
                               "', which the data does not have");
      }
      out.push_back(s);
    }
  }
  return Status::Ok();
}

RankingEvaluator::Features RankingEvaluator::SideOf(const Batch& batch, size_t i,
                                                    const std::vector<int>& slots) const {
  Features f;
  for (int s : slots) {
    const SparseSlot& slot = batch.slots[static_cast<size_t>(s)];
    for (uint32_t p = slot.offsets[i]; p < slot.offsets[i + 1]; ++p) {
      f.slots.push_back(static_cast<uint32_t>(s));
      f.keys.push_back(slot.keys[p]);
      f.values.push_back(slot.has_values ? slot.values[p] : 1.0f);
    }
  }
  return f;
}

Status RankingEvaluator::LoadTraining(
    const std::function<StatusOr<std::unique_ptr<Reader>>(const ReaderOptions&)>& open_train) {
  if (trained_loaded_) return Status::Ok();
  ASSIGN_OR_RETURN(auto reader, open_train(options_.reader));
  RETURN_IF_ERROR(ResolveSlots(reader->schema()));
  Batch batch;
  bool any_item_id = false;
  while (true) {
    RETURN_IF_ERROR(reader->Next(&batch));
    if (batch.empty()) break;
    for (size_t i = 0; i < batch.size(); ++i) {
      const uint64_t user = batch.user_ids[i], item = batch.item_ids[i];
      any_item_id |= item != 0;
      if (item_features_.find(item) == item_features_.end()) {
        item_features_.emplace(item, SideOf(batch, i, item_slots_));
      }
      if (!Owned(user)) continue;
      if (user_features_.find(user) == user_features_.end()) {
        user_features_.emplace(user, SideOf(batch, i, user_slots_));
      }
      train_items_[user].push_back(item);
    }
  }
  if (!any_item_id) {
    return InvalidArgument("training.ranking_protocol '" + options_.protocol +
                           "' needs item ids in the data; the training split has none");
  }
  for (auto& entry : train_items_) {
    auto& items = entry.second;
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
  }
  catalog_.reserve(item_features_.size());
  for (const auto& entry : item_features_) catalog_.push_back(entry.first);
  std::sort(catalog_.begin(), catalog_.end());
  trained_loaded_ = true;
  return Status::Ok();
}

Status RankingEvaluator::LoadSplit(
    const std::string& name,
    const std::function<StatusOr<std::unique_ptr<Reader>>(const ReaderOptions&)>& open_split) {
  if (splits_.count(name)) return Status::Ok();
  ASSIGN_OR_RETURN(auto reader, open_split(options_.reader));
  Split split;
  Batch batch;
  while (true) {
    RETURN_IF_ERROR(reader->Next(&batch));
    if (batch.empty()) break;
    for (size_t i = 0; i < batch.size(); ++i) {
      const uint64_t user = batch.user_ids[i], item = batch.item_ids[i];
      if (!Owned(user)) continue;
      split.users[user].items.emplace_back(item, batch.labels[i]);
      if (user_features_.find(user) == user_features_.end() &&
          split.user_features.find(user) == split.user_features.end()) {
        split.user_features.emplace(user, SideOf(batch, i, user_slots_));
      }
      if (item_features_.find(item) == item_features_.end() &&
          split.items.find(item) == split.items.end()) {
        split.items.emplace(item, SideOf(batch, i, item_slots_));
      }
    }
  }
  for (auto& entry : split.users) {
    auto& items = entry.second.items;
    std::sort(items.begin(), items.end());
    // An item rated twice counts once, with its highest label.
    std::vector<std::pair<uint64_t, float>> unique;
    for (const auto& it : items) {
      if (!unique.empty() && unique.back().first == it.first) {
        unique.back().second = std::max(unique.back().second, it.second);
      } else {
        unique.push_back(it);
      }
    }
    items.swap(unique);
  }
  splits_.emplace(name, std::move(split));
  return Status::Ok();
}

void RankingEvaluator::Candidates(uint64_t user, const Heldout& heldout,
                                  std::vector<uint64_t>* items, std::vector<bool>* relevant) const {
  items->clear();
  relevant->clear();
  static const std::vector<uint64_t> kNone;
  auto t = train_items_.find(user);
  const std::vector<uint64_t>& trained = t == train_items_.end() ? kNone : t->second;
  std::vector<uint64_t> held;
  for (const auto& [item, label] : heldout.items) held.push_back(item);  // sorted
  // The held-out items first (catalog or not), then the others.
  for (const auto& [item, label] : heldout.items) {
    items->push_back(item);
    relevant->push_back(label >= options_.relevance_threshold);
  }
  if (options_.protocol == "all_unrated") {
    for (uint64_t item : catalog_) {
      if (Contains(held, item) || Contains(trained, item)) continue;
      items->push_back(item);
      relevant->push_back(false);
    }
    return;
  }
  // sampled: `negatives` distinct catalog items rated neither in training nor here.
  size_t excluded = 0;
  for (uint64_t item : trained) excluded += Contains(catalog_, item);
  for (uint64_t item : held) excluded += Contains(catalog_, item) && !Contains(trained, item);
  const size_t available = catalog_.size() - excluded;
  const size_t want = static_cast<size_t>(options_.negatives);
  if (available <= want) {
    for (uint64_t item : catalog_) {
      if (Contains(held, item) || Contains(trained, item)) continue;
      items->push_back(item);
      relevant->push_back(false);
    }
    return;
  }
  std::mt19937_64 rng(Mix64(options_.seed ^ Mix64(user + 0x73616d706c65ULL)));
  std::unordered_set<uint64_t> chosen;
  while (chosen.size() < want) {
    const uint64_t item = catalog_[rng() % catalog_.size()];
    if (Contains(held, item) || Contains(trained, item) || !chosen.insert(item).second) continue;
    items->push_back(item);
    relevant->push_back(false);
  }
}

Status RankingEvaluator::Evaluate(const std::string& name, const RowFetcher& fetch, Model* model,
                                  const float* dense, UserRankingAccumulator* out) {
  auto s = splits_.find(name);
  if (!trained_loaded_ || s == splits_.end()) {
    return InvalidArgument("ranking: split '" + name + "' evaluated before it was loaded");
  }
  const Split& split = s->second;
  auto features_of_item = [&](uint64_t item) -> const Features& {
    auto it = item_features_.find(item);
    return it != item_features_.end() ? it->second : split.items.at(item);
  };
  auto features_of_user = [&](uint64_t user) -> const Features& {
    auto it = user_features_.find(user);
    return it != user_features_.end() ? it->second : split.user_features.at(user);
  };

  // Every row the ranking needs, fetched once: catalog items, this split's
  // other held-out items, and the owned users.
  EmbeddingBatch emb;
  emb.tables.resize(options_.linear_table ? 2 : 1);
  std::unordered_map<uint64_t, uint32_t> row_of;
  auto add_keys = [&](const Features& f) {
    for (uint64_t key : f.keys) {
      if (row_of.emplace(key, static_cast<uint32_t>(row_of.size())).second) {
        emb.tables[0].keys.push_back(key);
      }
    }
  };
  for (uint64_t item : catalog_) add_keys(item_features_.at(item));
  std::vector<uint64_t> extra;
  for (const auto& entry : split.items) extra.push_back(entry.first);
  std::sort(extra.begin(), extra.end());  // a fixed key order
  for (uint64_t item : extra) add_keys(split.items.at(item));
  for (const auto& entry : split.users) add_keys(features_of_user(entry.first));
  const int dims[2] = {options_.embedding_dim, 1};
  for (size_t t = 0; t < emb.tables.size(); ++t) {
    TableRows& table = emb.tables[t];
    table.table_id = static_cast<uint32_t>(t);
    table.dim = dims[t];
    if (t > 0) table.keys = emb.tables[0].keys;
    table.rows.resize(table.keys.size() * static_cast<size_t>(table.dim));
  }
  if (!emb.tables[0].keys.empty()) RETURN_IF_ERROR(fetch(&emb));
  emb.row_index.assign(schema_.num_slots(), {});

  Batch batch;
  std::vector<uint64_t> items;
  std::vector<bool> relevant;
  std::vector<float> scores;
  std::vector<RankedCandidate> ranked;
  auto add_side = [&](const Features& f) {
    for (size_t j = 0; j < f.keys.size(); ++j) {
      const size_t slot = f.slots[j];
      if (batch.slots[slot].has_values) {
        batch.AddKeyValue(slot, f.keys[j], f.values[j]);
      } else {
        batch.AddKey(slot, f.keys[j]);
      }
      emb.row_index[slot].push_back(row_of.at(f.keys[j]));
    }
  };
  for (const auto& [user, heldout] : split.users) {
    Candidates(user, heldout, &items, &relevant);
    scores.resize(items.size());
    const Features& user_side = features_of_user(user);
    for (size_t begin = 0; begin < items.size(); begin += kChunk) {
      const size_t end = std::min(items.size(), begin + kChunk);
      batch.Reset(schema_);
      for (auto& index : emb.row_index) index.clear();
      for (size_t i = begin; i < end; ++i) {
        for (size_t d = 0; d < schema_.num_dense(); ++d) batch.AddDense(0.0f);
        add_side(user_side);
        add_side(features_of_item(items[i]));
        batch.FinishExample(0.0f, 0, user, items[i]);
      }
      RETURN_IF_ERROR(model->Forward(batch, emb, dense, scores.data() + begin));
    }
    ranked.resize(items.size());
    for (size_t i = 0; i < items.size(); ++i) ranked[i] = {scores[i], relevant[i]};
    UserRanking r;
    if (RankUser(&ranked, static_cast<size_t>(options_.k), &r)) {
      out->Add(user, r);
    } else {
      out->AddSkipped(user);
    }
  }
  return Status::Ok();
}

}  // namespace metaps
