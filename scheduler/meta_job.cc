#include "scheduler/meta_job.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>

#include "common/control.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/logging.h"
#include "common/task_metrics.h"

namespace metaps {

std::vector<uint32_t> SampleMetaBatch(uint64_t seed, int64_t step, uint32_t tasks, uint32_t count) {
  count = std::min(count, tasks);
  std::vector<uint32_t> out;
  if (count == tasks) {
    for (uint32_t t = 0; t < tasks; ++t) out.push_back(t);
    return out;
  }
  // Floyd's algorithm: `count` distinct values, O(count), from (seed, step) alone.
  std::mt19937_64 rng(Mix64(Mix64(seed ^ 0x6f75746572ULL) + static_cast<uint64_t>(step)));
  std::set<uint32_t> chosen;
  for (uint32_t j = tasks - count; j < tasks; ++j) {
    const uint32_t t = static_cast<uint32_t>(rng() % (static_cast<uint64_t>(j) + 1));
    if (!chosen.insert(t).second) chosen.insert(j);
  }
  return std::vector<uint32_t>(chosen.begin(), chosen.end());
}

std::vector<std::vector<uint32_t>> BalanceTasks(const std::vector<uint32_t>& tasks,
                                                const std::vector<uint32_t>& sizes, int workers) {
  std::vector<uint32_t> order = tasks;
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return sizes[a] > sizes[b]; });
  std::vector<std::vector<uint32_t>> out(static_cast<size_t>(workers));
  std::vector<uint64_t> load(static_cast<size_t>(workers), 0);
  for (uint32_t t : order) {
    const size_t w = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    out[w].push_back(t);
    load[w] += sizes[t];
  }
  return out;
}

MetaTrainJob::MetaTrainJob(const ClusterView& view, MetaReport report)
    : view_(view), report_(report), train_(view, report.train) {}

const std::map<std::string, double>* MetaTrainJob::LastMetrics(const std::string& split) const {
  auto it = last_.find(split);
  return it == last_.end() ? nullptr : &it->second;
}

Status MetaTrainJob::OnIndex(std::vector<GatherEntry>& entries) {
  control::MetaIndex first;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Message& m = entries[i].request;
    const std::string from = "meta/index from " + view_.Describe(entries[i].rank);
    if (m.frames.size() != 1) return ProtocolError(from + ": expected one MetaIndex frame");
    ASSIGN_OR_RETURN(control::MetaIndex index, DecodeMetaIndex(m.frames[0].to_string(), from));
    if (i == 0) {
      first = std::move(index);
      continue;
    }
    if (index.digest() != first.digest() || index.train_sizes_size() != first.train_sizes_size() ||
        index.valid_tasks() != first.valid_tasks() || index.test_tasks() != first.test_tasks()) {
      return ProtocolError(from +
                           ": the workers built different task indexes (did they read "
                           "the same data?)");
    }
  }
  train_sizes_.assign(first.train_sizes().begin(), first.train_sizes().end());
  split_tasks_["valid"] = first.valid_tasks();
  split_tasks_["test"] = first.test_tasks();
  const std::string line = JsonText({{"event", "meta_index"},
                                     {"train_tasks", train_sizes_.size()},
                                     {"valid_tasks", first.valid_tasks()},
                                     {"test_tasks", first.test_tasks()},
                                     {"dropped_small", first.dropped_small()},
                                     {"dropped_large", first.dropped_large()}});
  METAPS_LOG(INFO) << line;
  train_.Record(line);
  return Status::Ok();
}

Status MetaTrainJob::OnEval(const std::string& split, int64_t step,
                            std::vector<GatherEntry>& entries) {
  const std::vector<std::string> names = MetaTaskMetricNames(report_.logistic);
  int64_t tasks = 0, both_new_tasks = 0;
  std::map<std::string, std::pair<double, int64_t>> before, adapted, both_new_before,
      both_new_adapted;
  for (auto& e : entries) {
    const std::string from = "meta/eval from " + view_.Describe(e.rank);
    ASSIGN_OR_RETURN(control::MetaEvalPartial p,
                     DecodeMetaEvalPartial(e.request.header.control().payload(), names, from));
    tasks += p.tasks();
    both_new_tasks += p.both_new_tasks();
    const std::pair<const google::protobuf::RepeatedPtrField<control::MetaEvalPartial::MetricSum>*,
                    std::map<std::string, std::pair<double, int64_t>>*>
        lists[] = {{&p.before(), &before},
                   {&p.adapted(), &adapted},
                   {&p.both_new_before(), &both_new_before},
                   {&p.both_new_adapted(), &both_new_adapted}};
    for (const auto& [list, sums] : lists) {
      for (const auto& s : *list) {
        (*sums)[s.name()].first += s.sum();
        (*sums)[s.name()].second += s.count();
      }
    }
  }
  // Every task of the split, each once (the workers' shares partition it).
  if (tasks != split_tasks_[split]) {
    return ProtocolError("meta/eval/" + split + ": the workers evaluated " + std::to_string(tasks) +
                         " tasks, the split has " + std::to_string(split_tasks_[split]));
  }
  std::map<std::string, double>& flat = last_[split];
  flat.clear();
  flat["tasks"] = static_cast<double>(tasks);
  auto object = [&](const char* what, const std::map<std::string, std::pair<double, int64_t>>& m) {
    OrderedJson json = OrderedJson::object();
    for (const std::string& name : names) {
      auto it = m.find(name);
      if (it == m.end() || it->second.second == 0) continue;
      const double mean = it->second.first / static_cast<double>(it->second.second);
      flat[std::string(what) + "/" + name] = mean;
      json[name] = mean;
    }
    return json;
  };
  OrderedJson record = {{"event", "meta_eval"},
                        {"split", split},
                        {"step", step},
                        {"tasks", tasks},
                        {"before", object("before", before)},
                        {"adapted", object("adapted", adapted)}};
  // Tasks with query examples on the other side's new ids (new users on new
  // items): their metrics on those examples alone.
  if (both_new_tasks > 0) {
    flat["both_new/tasks"] = static_cast<double>(both_new_tasks);
    record["both_new"] = {{"tasks", both_new_tasks},
                          {"before", object("both_new/before", both_new_before)},
                          {"adapted", object("both_new/adapted", both_new_adapted)}};
  }
  const std::string line = JsonText(record);
  for (const auto& [key, value] : flat) {
    if (!std::isfinite(value)) {
      METAPS_LOG(WARNING) << split << " " << key << " is not finite: the model or its inner loop "
                          << "diverged (try a smaller meta.inner_lr or table lr)";
      break;
    }
  }
  METAPS_LOG(INFO) << line;
  train_.Record(line);
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
  return Status::Ok();
}

Status MetaTrainJob::OnGather(const std::string& name, std::vector<GatherEntry>& entries,
                              wire::Control* reply) {
  if (name == "meta/index") return OnIndex(entries);
  if (name.rfind("meta/step/", 0) == 0) {
    int64_t step = 0;
    if (!ParseStep(name.substr(10), &step)) {
      return ProtocolError("malformed gather name '" + name.substr(0, 64) + "'");
    }
    if (train_sizes_.empty()) return ProtocolError(name + " before meta/index");
    const std::vector<uint32_t> tasks =
        SampleMetaBatch(report_.seed, step, static_cast<uint32_t>(train_sizes_.size()),
                        static_cast<uint32_t>(report_.tasks_per_step));
    control::MetaBatch batch;
    batch.set_step(step);
    for (const auto& mine : BalanceTasks(tasks, train_sizes_, view_.layout.num_workers())) {
      *batch.add_workers()->mutable_tasks() = {mine.begin(), mine.end()};
    }
    reply->set_payload(EncodeMetaBatch(std::move(batch)));
    return Status::Ok();
  }
  if (name.rfind("meta/eval/", 0) == 0) {
    const size_t slash = name.find('/', 10);
    int64_t step = 0;
    const std::string split = slash == std::string::npos ? "" : name.substr(10, slash - 10);
    if ((split != "valid" && split != "test") || !ParseStep(name.substr(slash + 1), &step)) {
      return ProtocolError("malformed gather name '" + name.substr(0, 64) + "'");
    }
    return OnEval(split, step, entries);
  }
  return train_.OnGather(name, entries, reply);
}

}  // namespace metaps
