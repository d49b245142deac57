#include "scheduler/train_job.h"

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <optional>
#include <type_traits>

#include "common/control.h"
#include "common/json.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/metrics_codec.h"

namespace metaps {
namespace {

// One JSON object of metrics, and the same numbers in a flat map.
class MetricsObject {
 public:
  void Number(const std::string& key, double v) {
    json_[key] = v;
    flat_[key] = v;
  }
  void Integer(const std::string& key, uint64_t v) {
    json_[key] = v;
    flat_[key] = static_cast<double>(v);
  }
  void String(const std::string& key, const std::string& v) { json_[key] = v; }
  // A nested object; its numbers go into the flat map as "key/inner".
  void Object(const std::string& key, const MetricsObject& inner) {
    json_[key] = inner.json_;
    for (const auto& [k, v] : inner.flat_) flat_[key + "/" + k] = v;
  }
  const OrderedJson& Json() const { return json_; }
  const std::map<std::string, double>& flat() const { return flat_; }

 private:
  OrderedJson json_ = OrderedJson::object();
  std::map<std::string, double> flat_;
};

void AddBinary(const BinaryMetrics& x, MetricsObject* o) {
  o->Integer("count", x.count);
  o->Integer("positives", x.positives);
  o->Number("auc", x.auc);
  o->Number("logloss", x.logloss);
  o->Number("accuracy", x.accuracy);
  o->Number("precision", x.precision);
  o->Number("recall", x.recall);
  o->Number("f1", x.f1);
}

void AddRegression(const RegressionMetrics& x, MetricsObject* o) {
  o->Integer("count", x.count);
  o->Number("mae", x.mae);
  o->Number("rmse", x.rmse);
  o->Number("mse", x.mse);
}

void AddRanking(const RankingMetrics& x, int k, const std::string& protocol, MetricsObject* o) {
  const std::string at = "@" + std::to_string(k);
  o->String("ranking_protocol", protocol);
  o->Number("precision" + at, x.precision);
  o->Number("recall" + at, x.recall);
  o->Number("ndcg" + at, x.ndcg);
  o->Number("hit_rate" + at, x.hit_rate);
  o->Integer("ranked_users", x.users);
  o->Integer("skipped_users", x.skipped_users);
  o->Number("candidates_per_user",
            x.users > 0 ? static_cast<double>(x.candidates) / static_cast<double>(x.users) : 0.0);
}

// Merges a deserialized part into *acc (the first part becomes it).
template <typename Acc>
Status MergeInto(StatusOr<Acc> part, std::optional<Acc>* acc) {
  if (!part.ok()) return part.status();
  if (!acc->has_value()) {
    acc->emplace(std::move(part).value());
    return Status::Ok();
  }
  if constexpr (std::is_same_v<decltype((*acc)->Merge(part.value())), Status>) {
    return (*acc)->Merge(part.value());
  } else {
    (*acc)->Merge(part.value());
    return Status::Ok();
  }
}

}  // namespace

bool ParseStep(const std::string& text, int64_t* step) {
  if (text.empty() || text.size() > 18) return false;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *step = v;
  return true;
}

TrainJob::TrainJob(const ClusterView& view, TrainReport report)
    : view_(view), report_(std::move(report)) {
  if (report_.early_stop) {
    const config::EarlyStop& es = *report_.early_stop;
    // The config was validated: the metric is known.
    auto higher_is_better = MetricHigherIsBetter(es.metric());
    const bool higher = !higher_is_better.ok() || higher_is_better.value();
    early_stop_ =
        std::make_unique<EarlyStopper>(es.metric(), higher, es.patience(), es.min_delta());
  }
  if (!report_.output_dir.empty()) {
    ::mkdir(report_.output_dir.c_str(), 0755);
    metrics_.open(report_.output_dir + "/metrics.jsonl", std::ios::app);
    if (!metrics_) METAPS_LOG(WARNING) << "cannot write " << report_.output_dir << "/metrics.jsonl";
  }
}

void TrainJob::Record(const std::string& json) {
  if (metrics_) {
    metrics_ << json << "\n";
    metrics_.flush();
  }
}

Status TrainJob::OnEval(const std::string& split, int64_t step, std::vector<GatherEntry>& entries) {
  ASSIGN_OR_RETURN(bool binary,
                   DecodeEvalPartialIsBinary(entries[0].request.header.control().payload(),
                                             "rank " + std::to_string(entries[0].rank)));
  std::optional<BinaryMetricsAccumulator> b;
  std::optional<RegressionMetricsAccumulator> r;
  std::optional<RankingMetricsAccumulator> heldout;
  std::optional<UserRankingAccumulator> users;
  std::optional<GaucAccumulator> gauc;
  std::optional<ScenarioMetricsAccumulator> scenarios;
  for (auto& e : entries) {
    const Message& m = e.request;
    const std::string from = "rank " + std::to_string(e.rank);
    if (m.frames.empty()) return ProtocolError(from + " sent an eval partial with no frames");
    ASSIGN_OR_RETURN(bool kind, DecodeEvalPartialIsBinary(m.header.control().payload(), from));
    if (kind != binary) {
      return ProtocolError(from + " sent " + (kind ? "binary" : "regression") +
                           " eval partials, rank " + std::to_string(entries[0].rank) + " " +
                           (binary ? "binary" : "regression") + " ones");
    }
    const auto* overall = static_cast<const uint8_t*>(m.frames[0].data());
    const size_t overall_size = m.frames[0].size();
    if (binary) {
      RETURN_IF_ERROR(MergeInto(BinaryMetricsAccumulator::Deserialize(overall, overall_size), &b));
    } else {
      RETURN_IF_ERROR(
          MergeInto(RegressionMetricsAccumulator::Deserialize(overall, overall_size), &r));
    }
    for (size_t f = 1; f < m.frames.size(); ++f) {
      const auto* data = static_cast<const uint8_t*>(m.frames[f].data());
      const size_t size = m.frames[f].size();
      switch (metrics_codec::PeekTag(data, size)) {
        case metrics_codec::kScenarioTag:
          RETURN_IF_ERROR(
              MergeInto(ScenarioMetricsAccumulator::Deserialize(data, size, overall, overall_size),
                        &scenarios));
          break;
        case metrics_codec::kGaucTag:
          RETURN_IF_ERROR(MergeInto(GaucAccumulator::Deserialize(data, size), &gauc));
          break;
        case metrics_codec::kRankingTag:
          RETURN_IF_ERROR(MergeInto(RankingMetricsAccumulator::Deserialize(data, size), &heldout));
          break;
        case metrics_codec::kUserRankingTag:
          RETURN_IF_ERROR(MergeInto(UserRankingAccumulator::Deserialize(data, size), &users));
          break;
        default:
          return ProtocolError(from + " sent eval frame " + std::to_string(f) +
                               " of an unknown kind");
      }
    }
  }
  MetricsObject obj;
  if (b) {
    AddBinary(b->Result(), &obj);
  } else {
    AddRegression(r->Result(), &obj);
  }
  if (gauc && gauc->Result().all_users > 0) {
    const GaucMetrics g = gauc->Result();
    obj.Number("gauc", g.gauc);
    obj.Integer("gauc_users", g.users);
    obj.Integer("gauc_impressions", g.impressions);
  }
  if (heldout) AddRanking(heldout->Result(), heldout->k(), "heldout_only", &obj);
  if (users) AddRanking(users->Result(), users->k(), users->protocol(), &obj);
  if (scenarios && (report_.model == "multi_scenario" || scenarios->num_scenarios() > 1)) {
    MetricsObject per;
    if (scenarios->logistic()) {
      for (const auto& [id, x] : scenarios->BinaryResults()) {
        MetricsObject one;
        AddBinary(x, &one);
        per.Object(std::to_string(id), one);
      }
    } else {
      for (const auto& [id, x] : scenarios->RegressionResults()) {
        MetricsObject one;
        AddRegression(x, &one);
        per.Object(std::to_string(id), one);
      }
    }
    obj.Object("per_scenario", per);
  }
  last_eval_[split] = obj.Json();
  last_metrics_[split] = obj.flat();
  last_metrics_step_[split] = step;
  // --- early stopping: note the watched validation metric ---
  if (early_stop_ && split == "valid") {
    const auto& flat = last_metrics_[split];
    auto it = flat.find(early_stop_->metric());
    early_value_ = it == flat.end() ? NAN : it->second;
    early_value_step_ = step;
  }
  const OrderedJson record = {
      {"event", "eval"}, {"split", split}, {"step", step}, {"metrics", obj.Json()}};
  METAPS_LOG(INFO) << report_.label << "eval " << split << " at step " << step << ": "
                   << JsonText(obj.Json());
  Record(JsonText(record));
  return Status::Ok();
}

const std::map<std::string, double>* TrainJob::LastMetrics(const std::string& split) const {
  auto it = last_metrics_.find(split);
  return it == last_metrics_.end() ? nullptr : &it->second;
}

int64_t TrainJob::LastEvalStep(const std::string& split) const {
  auto it = last_metrics_step_.find(split);
  return it == last_metrics_step_.end() ? -1 : it->second;
}

Status TrainJob::OnGather(const std::string& name, std::vector<GatherEntry>& entries,
                          wire::Control* reply) {
  if (name.rfind("ps/sync/", 0) == 0 || name.rfind("ps/resume", 0) == 0) {
    // ps/sync: the workers' ServerSync goes to everyone (each server checks
    // it); they must all say the same. ps/resume: each server's Restored step,
    // which must agree, goes to everyone as the reply's value.
    const bool resume = name.rfind("ps/resume", 0) == 0;
    bool have_step = false;
    for (auto& e : entries) {
      const wire::Role role = view_.layout.RoleOf(e.rank);
      const std::string& payload = e.request.header.control().payload();
      const std::string from = name + " from rank " + std::to_string(e.rank);
      if (!resume && role == wire::WORKER) {
        RETURN_IF_ERROR(DecodeServerSync(payload, from).status());
        if (!reply->payload().empty() && reply->payload() != payload) {
          return ProtocolError(from + ": ServerSync differs from another worker's");
        }
        reply->set_payload(payload);
      }
      if (resume && role == wire::SERVER) {
        ASSIGN_OR_RETURN(int64_t step, DecodeRestored(payload, from));
        if (have_step && reply->value() != step) {
          return ProtocolError(from + ": restored step " + std::to_string(step) + ", another " +
                               "server restored " + std::to_string(reply->value()));
        }
        reply->set_value(step);
        have_step = true;
      }
    }
    return Status::Ok();
  }
  if (name.rfind("ps/", 0) == 0) return Status::Ok();  // plain barriers of the PS protocol
  if (name.rfind("train/progress/", 0) == 0) {
    ASSIGN_OR_RETURN(control::Progress p,
                     DecodeProgress(entries[0].request.header.control().payload(),
                                    name + " from rank " + std::to_string(entries[0].rank)));
    const long long epoch = p.epoch(), step = p.step();
    const double samples = p.samples(), loss = p.loss(), rate = p.samples_per_s(),
                 elapsed = p.elapsed_s();
    OrderedJson line = {{"event", "progress"},           {"epoch", epoch}, {"step", step},
                        {"samples", JsonCount(samples)}, {"loss", loss},   {"samples_per_s", rate},
                        {"elapsed_s", elapsed}};
    if (report_.max_steps > 0 && step > 0) {
      line["eta_s"] =
          elapsed / static_cast<double>(step) * static_cast<double>(report_.max_steps - step);
    }
    METAPS_LOG(INFO) << "epoch " << epoch << " step " << step << ": loss " << JsonText(loss) << ", "
                     << JsonText(rate) << " samples/s";
    Record(JsonText(line));
    return Status::Ok();
  }
  if (name.rfind("early/", 0) == 0) return OnEarlyStop(name, entries, reply);
  if (name.rfind("eval/", 0) == 0) {
    const size_t slash = name.find('/', 5);
    int64_t step = 0;
    if (slash == std::string::npos || !ParseStep(name.substr(slash + 1), &step)) {
      return ProtocolError("malformed eval gather name '" + name + "'");
    }
    return OnEval(name.substr(5, slash - 5), step, entries);
  }
  if (name == "train/done") {
    // Totals are the same on every worker; times are each worker's own: report the slowest.
    long long steps = 0;
    double samples = 0, loss = 0, seconds = 0, run_samples = 0, t[5] = {0, 0, 0, 0, 0};
    for (size_t i = 0; i < entries.size(); ++i) {
      ASSIGN_OR_RETURN(control::Done d,
                       DecodeDone(entries[i].request.header.control().payload(),
                                  name + " from rank " + std::to_string(entries[i].rank)));
      if (i == 0) {
        steps = d.steps();
        samples = d.samples();
        loss = d.loss();
        run_samples = d.run_samples();
      }
      seconds = std::max(seconds, d.seconds());
      const double phases[5] = {d.read_s(), d.pull_s(), d.compute_s(), d.push_s(), d.allreduce_s()};
      for (int k = 0; k < 5; ++k) t[k] = std::max(t[k], phases[k]);
    }
    OrderedJson line = {
        {"event", "done"},
        {"model", report_.model},
        {"servers", view_.layout.num_servers()},
        {"workers", report_.workers > 0 ? report_.workers : view_.layout.num_workers()},
        {"steps", steps},
        {"samples", JsonCount(samples)},
        {"train_loss", loss},
        {"seconds", seconds},
        {"samples_per_s", seconds > 0 ? run_samples / seconds : 0},
        {"time_s",
         {{"read", t[0]}, {"pull", t[1]}, {"compute", t[2]}, {"push", t[3]}, {"allreduce", t[4]}}}};
    for (const char* split : {"valid", "test"}) {
      auto it = last_eval_.find(split);
      if (it != last_eval_.end()) line[split] = it->second;
    }
    if (early_stop_) {  // --- early stopping: the chosen step ---
      const EarlyStopState& es = early_stop_->state();
      line["best"] = es.has_best() ? OrderedJson{{"step", es.best_step},
                                                 {"epoch", es.best_epoch},
                                                 {"metric", early_stop_->metric()},
                                                 {"value", es.best_value}}
                                   : OrderedJson(nullptr);
      line["stopped_early"] = es.stopped;
    }
    const std::string text = JsonText(line);
    Record(text);
    if (!report_.quiet) {
      std::fputs((text + "\n").c_str(), stdout);
      std::fflush(stdout);
    }
    done_line_ = std::move(line);
    done_ = true;
    return Status::Ok();
  }
  return InvalidArgument("train job got unknown gather " + name);
}

}  // namespace metaps

namespace metaps {

Status TrainJob::OnEarlyStop(const std::string& name, std::vector<GatherEntry>& entries,
                             wire::Control* reply) {
  if (!early_stop_) return InvalidArgument("gather " + name + " but training.early_stop is unset");
  const std::string& payload = entries[0].request.header.control().payload();
  const std::string from = name + " from rank " + std::to_string(entries[0].rank);
  if (name == "early/resume") {
    // Every worker read the same file; take the first. A state of another
    // metric starts afresh.
    ASSIGN_OR_RETURN(EarlyStopResumed saved, DecodeEarlyStopResume(payload, from));
    if (saved.has_state && saved.metric != early_stop_->metric()) {
      METAPS_LOG(WARNING) << "the checkpoint's early-stop state is for " << saved.metric << ", not "
                          << early_stop_->metric() << ": starting afresh";
    } else if (saved.has_state) {
      early_stop_->Restore(saved.state);
    }
    METAPS_LOG(INFO) << "early stopping resumed: " << early_stop_->state().Serialize();
    reply->set_payload(EncodeEarlyStopResume(early_stop_->metric(), &early_stop_->state()));
    return Status::Ok();
  }
  int64_t step = 0;
  if (!ParseStep(name.substr(6), &step)) {
    return ProtocolError("malformed early-stop gather name '" + name + "'");
  }
  ASSIGN_OR_RETURN(const int64_t epoch, DecodeEarlyStopReport(payload, from));
  if (early_value_step_ != step) {
    return ProtocolError("early/" + std::to_string(step) + " without a validation of step " +
                         std::to_string(step));
  }
  const EarlyStopper::Decision d = early_stop_->Observe(step, epoch, early_value_);
  const EarlyStopState& s = early_stop_->state();
  const OrderedJson line = {{"event", "early_stop"},
                            {"step", step},
                            {"epoch", epoch},
                            {"metric", early_stop_->metric()},
                            {"value", early_value_},
                            {"decision", DecisionName(d)},
                            {"best_step", s.best_step},
                            {"best_value", s.best_value},
                            {"evals_without_improvement", s.bad_evals}};
  METAPS_LOG(INFO) << "early stopping at step " << step << ": valid " << early_stop_->metric()
                   << " " << JsonText(early_value_) << ", " << DecisionName(d) << " (best "
                   << JsonText(s.best_value) << " at step " << s.best_step << ", " << s.bad_evals
                   << " evaluation(s) without improvement)";
  Record(JsonText(line));
  reply->set_payload(EncodeEarlyStopAnswer(d, s));
  return Status::Ok();
}

}  // namespace metaps
