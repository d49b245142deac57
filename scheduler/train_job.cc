#include "scheduler/train_job.h"

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <sstream>

#include "common/logging.h"
#include "common/metrics.h"

namespace metaps {
namespace {

std::string Num(double v) {
  if (!std::isfinite(v)) return "null";
  char text[32];
  std::snprintf(text, sizeof(text), "%.6g", v);
  return text;
}

// The merged metrics by the names the done line uses (early stopping picks
// one of them): auc, logloss, ... or mae, rmse, mse; precision@k, ... .
std::map<std::string, double> FlatMetrics(const std::optional<BinaryMetricsAccumulator>& b,
                                          const std::optional<RegressionMetricsAccumulator>& r,
                                          const std::optional<RankingMetricsAccumulator>& k) {
  std::map<std::string, double> out;
  if (b) {
    const BinaryMetrics x = b->Result();
    out = {{"auc", x.auc},           {"logloss", x.logloss},
           {"accuracy", x.accuracy}, {"precision", x.precision},
           {"recall", x.recall},     {"f1", x.f1}};
  }
  if (r) {
    const RegressionMetrics x = r->Result();
    out = {{"mae", x.mae}, {"rmse", x.rmse}, {"mse", x.mse}};
  }
  if (k) {
    const RankingMetrics x = k->Result();
    const std::string at = "@" + std::to_string(k->k());
    out["precision" + at] = x.precision;
    out["recall" + at] = x.recall;
    out["ndcg" + at] = x.ndcg;
    out["hit_rate" + at] = x.hit_rate;
  }
  return out;
}

}  // namespace

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
  const bool binary = entries[0].request.header.control().text() == "binary";
  std::ostringstream obj;
  std::optional<BinaryMetricsAccumulator> b;
  std::optional<RegressionMetricsAccumulator> r;
  std::optional<RankingMetricsAccumulator> k;
  for (auto& e : entries) {
    const Message& m = e.request;
    if (m.frames.empty() || m.frames.size() > 2) {
      return ProtocolError("rank " + std::to_string(e.rank) + " sent a malformed eval partial");
    }
    const auto* data = static_cast<const uint8_t*>(m.frames[0].data());
    if (binary) {
      ASSIGN_OR_RETURN(auto part, BinaryMetricsAccumulator::Deserialize(data, m.frames[0].size()));
      if (b)
        RETURN_IF_ERROR(b->Merge(part));
      else
        b = std::move(part);
    } else {
      ASSIGN_OR_RETURN(auto part,
                       RegressionMetricsAccumulator::Deserialize(data, m.frames[0].size()));
      if (r)
        r->Merge(part);
      else
        r = std::move(part);
    }
    if (m.frames.size() == 2) {
      ASSIGN_OR_RETURN(auto part,
                       RankingMetricsAccumulator::Deserialize(
                           static_cast<const uint8_t*>(m.frames[1].data()), m.frames[1].size()));
      if (k)
        RETURN_IF_ERROR(k->Merge(part));
      else
        k = std::move(part);
    }
  }
  if (b) {
    BinaryMetrics x = b->Result();
    obj << "{\"count\":" << x.count << ",\"auc\":" << Num(x.auc)
        << ",\"logloss\":" << Num(x.logloss) << ",\"accuracy\":" << Num(x.accuracy)
        << ",\"precision\":" << Num(x.precision) << ",\"recall\":" << Num(x.recall)
        << ",\"f1\":" << Num(x.f1);
  } else {
    RegressionMetrics x = r->Result();
    obj << "{\"count\":" << x.count << ",\"mae\":" << Num(x.mae) << ",\"rmse\":" << Num(x.rmse)
        << ",\"mse\":" << Num(x.mse);
  }
  if (k) {
    RankingMetrics x = k->Result();
    const std::string at = "@" + std::to_string(k->k());
    obj << ",\"precision" << at << "\":" << Num(x.precision) << ",\"recall" << at
        << "\":" << Num(x.recall) << ",\"ndcg" << at << "\":" << Num(x.ndcg) << ",\"hit_rate" << at
        << "\":" << Num(x.hit_rate) << ",\"ranked_users\":" << x.users;
  }
  obj << "}";
  // --- early stopping: note the watched validation metric ---
  if (early_stop_ && split == "valid") {
    const auto flat = FlatMetrics(b, r, k);
    auto it = flat.find(early_stop_->metric());
    early_value_ = it == flat.end() ? NAN : it->second;
    early_value_step_ = step;
  }
  last_eval_[split] = obj.str();
  const std::string record = "{\"event\":\"eval\",\"split\":\"" + split +
                             "\",\"step\":" + std::to_string(step) + ",\"metrics\":" + obj.str() +
                             "}";
  METAPS_LOG(INFO) << "eval " << split << " at step " << step << ": " << obj.str();
  Record(record);
  return Status::Ok();
}

Status TrainJob::OnGather(const std::string& name, std::vector<GatherEntry>& entries,
                          wire::Control* reply) {
  if (name.rfind("ps/sync/", 0) == 0 || name.rfind("ps/resume", 0) == 0) {
    // Workers say what happens ("checkpoint <step>", "end <step>", ...);
    // servers say nothing (sync) or their restored step (resume). Everyone
    // gets the workers' word, and for resume the servers' step.
    for (auto& e : entries) {
      const std::string& t = e.request.header.control().text();
      if (view_.layout.RoleOf(e.rank) == wire::WORKER) reply->set_text(t);
      if (view_.layout.RoleOf(e.rank) == wire::SERVER && !t.empty()) {
        reply->set_value(std::stoll(t));
      }
    }
    return Status::Ok();
  }
  if (name.rfind("ps/", 0) == 0) return Status::Ok();  // plain barriers of the PS protocol
  const std::string& text = entries[0].request.header.control().text();
  if (name.rfind("train/progress/", 0) == 0) {
    long long epoch, step;
    double samples, loss, rate, elapsed;
    if (std::sscanf(text.c_str(), "%lld %lld %lf %lf %lf %lf", &epoch, &step, &samples, &loss,
                    &rate, &elapsed) != 6) {
      return ProtocolError("malformed progress report: " + text);
    }
    std::ostringstream line;
    line << "{\"event\":\"progress\",\"epoch\":" << epoch << ",\"step\":" << step
         << ",\"samples\":" << Num(samples) << ",\"loss\":" << Num(loss)
         << ",\"samples_per_s\":" << Num(rate) << ",\"elapsed_s\":" << Num(elapsed);
    if (report_.max_steps > 0 && step > 0) {
      line << ",\"eta_s\":"
           << Num(elapsed / static_cast<double>(step) *
                  static_cast<double>(report_.max_steps - step));
    }
    line << "}";
    METAPS_LOG(INFO) << "epoch " << epoch << " step " << step << ": loss " << Num(loss) << ", "
                     << Num(rate) << " samples/s";
    Record(line.str());
    return Status::Ok();
  }
  if (name.rfind("early/", 0) == 0) return OnEarlyStop(name, entries, reply);
  if (name.rfind("eval/", 0) == 0) {
    const size_t slash = name.find('/', 5);
    return OnEval(name.substr(5, slash - 5), std::stoll(name.substr(slash + 1)), entries);
  }
  if (name == "train/done") {
    // Totals are the same on every worker; times are each worker's own: report the slowest.
    long long steps;
    double samples, loss, seconds, t[5] = {0, 0, 0, 0, 0};
    if (std::sscanf(text.c_str(), "%lld %lf %lf %lf", &steps, &samples, &loss, &seconds) != 4) {
      return ProtocolError("malformed done report: " + text);
    }
    double run_samples = 0;
    for (auto& e : entries) {
      double s, v[5];
      long long st;
      double sa, lo;
      if (std::sscanf(e.request.header.control().text().c_str(),
                      "%lld %lf %lf %lf %lf %lf %lf %lf %lf %lf", &st, &sa, &lo, &s, &v[0], &v[1],
                      &v[2], &v[3], &v[4], &run_samples) != 10) {
        return ProtocolError("malformed done report from rank " + std::to_string(e.rank));
      }
      seconds = std::max(seconds, s);
      for (int i = 0; i < 5; ++i) t[i] = std::max(t[i], v[i]);
    }
    std::ostringstream line;
    line << "{\"event\":\"done\",\"model\":\"" << report_.model
         << "\",\"servers\":" << view_.layout.num_servers()
         << ",\"workers\":" << view_.layout.num_workers() << ",\"steps\":" << steps
         << ",\"samples\":" << Num(samples) << ",\"train_loss\":" << Num(loss)
         << ",\"seconds\":" << Num(seconds)
         << ",\"samples_per_s\":" << Num(seconds > 0 ? run_samples / seconds : 0)
         << ",\"time_s\":{\"read\":" << Num(t[0]) << ",\"pull\":" << Num(t[1])
         << ",\"compute\":" << Num(t[2]) << ",\"push\":" << Num(t[3])
         << ",\"allreduce\":" << Num(t[4]) << "}";
    for (const char* split : {"valid", "test"}) {
      auto it = last_eval_.find(split);
      if (it != last_eval_.end()) line << ",\"" << split << "\":" << it->second;
    }
    if (early_stop_) {  // --- early stopping: the chosen step ---
      const EarlyStopState& es = early_stop_->state();
      line << ",\"best\":";
      if (es.has_best()) {
        line << "{\"step\":" << es.best_step << ",\"epoch\":" << es.best_epoch << ",\"metric\":\""
             << early_stop_->metric() << "\",\"value\":" << Num(es.best_value) << "}";
      } else {
        line << "null";
      }
      line << ",\"stopped_early\":" << (es.stopped ? "true" : "false");
    }
    line << "}";
    Record(line.str());
    std::fputs((line.str() + "\n").c_str(), stdout);
    std::fflush(stdout);
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
  const std::string& text = entries[0].request.header.control().text();
  if (name == "early/resume") {
    // Every worker read the same file; take the first. Text "<metric> <state>",
    // or empty: none saved. A state of another metric starts afresh.
    std::istringstream words(text);
    std::string metric, rest;
    words >> metric;
    std::getline(words, rest);
    if (!metric.empty() && metric != early_stop_->metric()) {
      METAPS_LOG(WARNING) << "the checkpoint's early-stop state is for " << metric << ", not "
                          << early_stop_->metric() << ": starting afresh";
    } else if (!metric.empty()) {
      ASSIGN_OR_RETURN(EarlyStopState state, EarlyStopState::Parse(rest, "early/resume"));
      early_stop_->Restore(state);
    }
    METAPS_LOG(INFO) << "early stopping resumed: " << early_stop_->state().Serialize();
    reply->set_text(early_stop_->state().Serialize());
    return Status::Ok();
  }
  const int64_t step = std::stoll(name.substr(6));
  long long epoch = 0;
  if (std::sscanf(text.c_str(), "%lld", &epoch) != 1) {
    return ProtocolError("malformed early-stop report: " + text);
  }
  if (early_value_step_ != step) {
    return ProtocolError("early/" + std::to_string(step) + " without a validation of step " +
                         std::to_string(step));
  }
  const EarlyStopper::Decision d = early_stop_->Observe(step, epoch, early_value_);
  const EarlyStopState& s = early_stop_->state();
  std::ostringstream line;
  line << "{\"event\":\"early_stop\",\"step\":" << step << ",\"epoch\":" << epoch
       << ",\"metric\":\"" << early_stop_->metric() << "\",\"value\":" << Num(early_value_)
       << ",\"decision\":\"" << DecisionName(d) << "\",\"best_step\":" << s.best_step
       << ",\"best_value\":" << Num(s.best_value)
       << ",\"evals_without_improvement\":" << s.bad_evals << "}";
  METAPS_LOG(INFO) << "early stopping at step " << step << ": valid " << early_stop_->metric()
                   << " " << Num(early_value_) << ", " << DecisionName(d) << " (best "
                   << Num(s.best_value) << " at step " << s.best_step << ", " << s.bad_evals
                   << " evaluation(s) without improvement)";
  Record(line.str());
  reply->set_text(std::string(DecisionName(d)) + " " + s.Serialize());
  return Status::Ok();
}

}  // namespace metaps
