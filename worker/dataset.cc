#include "worker/dataset.h"

#include <sys/stat.h>

#include <algorithm>

#include "common/hash.h"
#include "worker/data/avazu_reader.h"
#include "worker/data/criteo_reader.h"
#include "worker/data/libsvm_reader.h"
#include "worker/data/movielens_reader.h"
#include "worker/data/scenario_reader.h"

namespace metaps {
namespace {

std::string Resolve(const std::string& dir, const std::string& path) {
  if (dir.empty() || path.empty() || path[0] == '/') return path;
  return dir + "/" + path;
}

std::vector<std::string> ResolveAll(const std::string& dir,
                                    const google::protobuf::RepeatedPtrField<std::string>& paths) {
  std::vector<std::string> out;
  for (const auto& p : paths) out.push_back(Resolve(dir, p));
  return out;
}

using FileOpener = std::function<StatusOr<std::unique_ptr<Reader>>(std::vector<std::string>,
                                                                   const ReaderOptions&)>;

ReaderFactory FilesFactory(FileOpener open, std::vector<std::string> files) {
  if (files.empty()) return nullptr;
  return [open, files](const ReaderOptions& o) { return open(files, o); };
}

// Keeps the examples whose hash(user, item) falls in [lo, hi) of [0, 1).
class HoldoutReader : public Reader {
 public:
  HoldoutReader(std::unique_ptr<Reader> inner, uint64_t seed, double lo, double hi,
                size_t batch_size)
      : inner_(std::move(inner)), seed_(seed), lo_(lo), hi_(hi), batch_size_(batch_size) {}

  Status Next(Batch* out) override {
    out->Reset(inner_->schema());
    while (out->size() < batch_size_) {
      if (pos_ == buffer_.size()) {
        RETURN_IF_ERROR(inner_->Next(&buffer_));
        pos_ = 0;
        if (buffer_.empty()) break;
      }
      for (; pos_ < buffer_.size() && out->size() < batch_size_; ++pos_) {
        const size_t i = pos_;
        const double u =
            static_cast<double>(Mix64(Mix64(buffer_.user_ids[i] ^ seed_) ^ buffer_.item_ids[i]) >>
                                11) *
            (1.0 / 9007199254740992.0);
        if (u < lo_ || u >= hi_) continue;
        for (size_t d = 0; d < buffer_.num_dense; ++d) {
          out->AddDense(buffer_.dense[i * buffer_.num_dense + d]);
        }
        for (size_t s = 0; s < buffer_.slots.size(); ++s) {
          const SparseSlot& slot = buffer_.slots[s];
          for (uint32_t p = slot.offsets[i]; p < slot.offsets[i + 1]; ++p) {
            if (slot.has_values) {
              out->AddKeyValue(s, slot.keys[p], slot.values[p]);
            } else {
              out->AddKey(s, slot.keys[p]);
            }
          }
        }
        out->FinishExample(buffer_.labels[i], buffer_.scenario_ids[i], buffer_.user_ids[i],
                           buffer_.item_ids[i], buffer_.timestamps[i]);
        const uint32_t scenario = buffer_.scenario_ids[i];
        if (scenario >= kept_per_scenario_.size()) kept_per_scenario_.resize(scenario + 1, 0);
        ++kept_per_scenario_[scenario];
      }
    }
    // The inner reader's counts, but examples per scenario of this band only.
    stats_ = inner_->stats();
    if (!stats_.scenario_examples.empty()) {
      kept_per_scenario_.resize(
          std::max(kept_per_scenario_.size(), stats_.scenario_examples.size()));
      stats_.scenario_examples = kept_per_scenario_;
    }
    return Status::Ok();
  }
  const BatchSchema& schema() const override { return inner_->schema(); }
  const ReaderStats& stats() const override { return stats_; }

 private:
  std::unique_ptr<Reader> inner_;
  uint64_t seed_;
  double lo_, hi_;
  size_t batch_size_;
  Batch buffer_;
  size_t pos_ = 0;
  std::vector<size_t> kept_per_scenario_;
  ReaderStats stats_;
};

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

ScenarioMap ScenarioFrom(const config::DataConfig& d) {
  ScenarioMapSpec spec;
  spec.column = d.scenario_from();
  // datagen-scenarios: value groups or bounds alone apply to its scenario column.
  if (spec.column.empty() && d.format() == "datagen-scenarios" &&
      (!d.scenario_values().empty() || !d.scenario_bounds().empty())) {
    spec.column = "scenario";
  }
  spec.values.assign(d.scenario_values().begin(), d.scenario_values().end());
  spec.bounds.assign(d.scenario_bounds().begin(), d.scenario_bounds().end());
  return ScenarioMap(spec);
}

// multi_scenario: readers check scenario ids against model.num_scenarios.
ReaderFactory CheckingScenarios(ReaderFactory open, uint32_t num_scenarios) {
  if (!open) return open;
  return [open, num_scenarios](const ReaderOptions& o) {
    ReaderOptions checked = o;
    checked.num_scenarios = num_scenarios;
    return open(checked);
  };
}

// libsvm/ffm format options: fields from data.fields or data.field_map, FFM's
// field count from data.num_fields or the train files.
StatusOr<LibsvmOptions> LibsvmFormat(const config::JobConfig& job, const std::string& data_dir) {
  const auto& d = job.data();
  LibsvmOptions lo;
  lo.ffm = d.format() == "ffm";
  lo.binary_label = job.model().loss() == "logistic";
  for (const auto& f : d.fields()) lo.fields.push_back({f.name(), f.first(), f.last()});
  if (!d.field_map().empty()) {
    auto fields = LoadLibsvmFieldMap(Resolve(data_dir, d.field_map()));
    if (!fields.ok()) return InvalidArgument("data.field_map: " + fields.status().message());
    lo.fields = std::move(fields).value();
  }
  if (lo.ffm) {
    if (d.has_num_fields()) {
      lo.num_fields = d.num_fields();
    } else {
      ASSIGN_OR_RETURN(lo.num_fields, InferFfmNumFields(ResolveAll(data_dir, d.train())));
    }
  }
  return lo;
}

}  // namespace

Status CheckDataSources(const config::JobConfig& job, const std::string& data_dir) {
  const auto& d = job.data();
  for (const char* split : {"train", "valid", "test"}) {
    const auto& files = std::string(split) == "train"   ? d.train()
                        : std::string(split) == "valid" ? d.valid()
                                                        : d.test();
    for (const std::string& f : files) {
      const std::string path = Resolve(data_dir, f);
      if (!IsRegularFile(path)) {
        return NotFound(std::string("data.") + split + ": " + path + " does not exist" +
                        (path == f ? "" : " (relative to --data " + data_dir + ")"));
      }
    }
  }
  if (!d.field_map().empty() && !IsRegularFile(Resolve(data_dir, d.field_map()))) {
    return NotFound("data.field_map: " + Resolve(data_dir, d.field_map()) + " does not exist");
  }
  const std::string& format = d.format();
  if ((format == "datagen-ctr" || format == "datagen-scenarios") && d.train().empty()) {
    const std::string train =
        Resolve(data_dir, format == "datagen-ctr" ? "train.txt" : "train.csv");
    if (!IsRegularFile(train)) {
      return NotFound("data.format " + format + ": " + train +
                      " does not exist (write it with metaps datagen --kind " +
                      (format == "datagen-ctr" ? "ctr" : "scenarios") + " --out " + data_dir +
                      ", or name the files in data.train)");
    }
  }
  if (format == "movielens") {
    ASSIGN_OR_RETURN(MovieLensFiles files, DetectMovieLens(data_dir));
    if (!d.scenario_from().empty() && files.users.empty()) {
      return InvalidArgument("data.scenario_from: '" + d.scenario_from() + "' needs the " +
                             MovieLensFlavorName(files.flavor) +
                             " users file (u.user, users.dat or users.csv) in " + data_dir +
                             ", and there is none (GroupLens ml-latest ships no users file)");
    }
  }
  // Opening the readers checks headers, side files, the scenario column and
  // FFM's field count. For multi_scenario the first batch of every split is read
  // too, so that a scenario count the data contradicts is reported before any
  // rank starts; a contradiction further into a file stops the worker that
  // reads it, naming file:line. Bad-line budgets are for whole files.
  ASSIGN_OR_RETURN(TrainerData data, OpenDataSources(job, data_dir));
  ReaderOptions probe;
  probe.batch_size = 1024;
  probe.max_bad_fraction = 1.0;
  for (const ReaderFactory* open : {&data.train, &data.valid, &data.test}) {
    if (!*open) continue;
    ASSIGN_OR_RETURN(auto reader, (*open)(probe));
    if (job.model().family() == "multi_scenario") {
      Batch first;
      RETURN_IF_ERROR(reader->Next(&first));
    }
  }
  return Status::Ok();
}

StatusOr<ReaderFactory> OpenRatingsFile(const config::JobConfig& job, const std::string& data_dir,
                                        const std::string& file) {
  const auto& d = job.data();
  MovieLensFiles files;
  if (d.format() == "movielens") {
    ASSIGN_OR_RETURN(files, DetectMovieLens(data_dir));
  } else if (d.format() == "datagen-ratings") {
    ASSIGN_OR_RETURN(files, DetectMovieLensSplit(data_dir, "train"));
  } else {
    return InvalidArgument("data.format " + d.format() +
                           ": a support or query file needs movielens or datagen-ratings data");
  }
  if (!IsRegularFile(file)) return NotFound(file + " does not exist");
  files.ratings = file;
  MovieLensOptions ml;
  ml.binary_label = d.binary_label();
  ml.rating_threshold = d.rating_threshold();
  ml.use_side_files = !d.ignore_side_files();
  ml.scenario = ScenarioFrom(d);
  return ReaderFactory(
      [files, ml](const ReaderOptions& o) { return OpenMovieLensReader(files, ml, o); });
}

StatusOr<TrainerData> OpenDataSources(const config::JobConfig& job, const std::string& data_dir) {
  const auto& d = job.data();
  TrainerData data;
  MovieLensOptions ml;
  ml.binary_label = d.binary_label();
  ml.rating_threshold = d.rating_threshold();
  ml.use_side_files = !d.ignore_side_files();
  ml.scenario = ScenarioFrom(d);
  const ScenarioMap scenario = ScenarioFrom(d);
  const std::string& format = d.format();
  if (format == "criteo" || format == "avazu" || format == "libsvm" || format == "ffm") {
    FileOpener open;
    if (format == "criteo") {
      open = [scenario](std::vector<std::string> f, const ReaderOptions& o) {
        return OpenCriteoReader(std::move(f), o, scenario);
      };
    }
    if (format == "avazu") {
      open = [scenario](std::vector<std::string> f, const ReaderOptions& o) {
        return OpenAvazuReader(std::move(f), o, scenario);
      };
    }
    if (d.train().empty()) return InvalidArgument("data.train: no files for format " + format);
    if (format == "libsvm" || format == "ffm") {
      ASSIGN_OR_RETURN(LibsvmOptions lo, LibsvmFormat(job, data_dir));
      open = [lo](std::vector<std::string> f, const ReaderOptions& o) {
        return OpenLibsvmReader(std::move(f), lo, o);
      };
    }
    data.train = FilesFactory(open, ResolveAll(data_dir, d.train()));
    data.valid = FilesFactory(open, ResolveAll(data_dir, d.valid()));
    data.test = FilesFactory(open, ResolveAll(data_dir, d.test()));
  } else if (format == "datagen-ctr" || format == "datagen-scenarios") {
    const bool ctr = format == "datagen-ctr";
    FileOpener open = [ctr, scenario](std::vector<std::string> f, const ReaderOptions& o) {
      return ctr ? OpenCriteoReader(std::move(f), o, scenario)
                 : OpenScenarioReader(std::move(f), o, scenario);
    };
    const std::string ext = ctr ? ".txt" : ".csv";
    // data.train / valid / test, where set, name the files instead.
    auto files = [&](const google::protobuf::RepeatedPtrField<std::string>& given,
                     const std::string& name) {
      return given.empty() ? std::vector<std::string>{Resolve(data_dir, name + ext)}
                           : ResolveAll(data_dir, given);
    };
    data.train = FilesFactory(open, files(d.train(), "train"));
    data.valid = FilesFactory(open, files(d.valid(), "valid"));
    data.test = FilesFactory(open, files(d.test(), "test"));
  } else if (format == "datagen-ratings") {
    for (const char* split : {"train", "valid", "test"}) {
      ASSIGN_OR_RETURN(MovieLensFiles files, DetectMovieLensSplit(data_dir, split));
      ReaderFactory f = [files, ml](const ReaderOptions& o) {
        return OpenMovieLensReader(files, ml, o);
      };
      (std::string(split) == "train"   ? data.train
       : std::string(split) == "valid" ? data.valid
                                       : data.test) = f;
    }
  } else if (format == "movielens") {
    ASSIGN_OR_RETURN(MovieLensFiles files, DetectMovieLens(data_dir));
    const double h = d.holdout_fraction();
    const uint64_t seed = job.training().seed();
    const size_t batch = static_cast<size_t>(d.batch_size());
    auto band = [files, ml, seed, batch](double lo, double hi) -> ReaderFactory {
      return [=](const ReaderOptions& o) -> StatusOr<std::unique_ptr<Reader>> {
        ASSIGN_OR_RETURN(auto inner, OpenMovieLensReader(files, ml, o));
        return std::unique_ptr<Reader>(new HoldoutReader(std::move(inner), seed, lo, hi, batch));
      };
    };
    data.test = band(0, h);
    data.valid = band(h, 2 * h);
    data.train = band(2 * h, 1.0);
  } else {
    return InvalidArgument("data.format '" + format + "' has no reader");
  }
  if (job.model().family() == "multi_scenario") {
    const auto n = static_cast<uint32_t>(job.model().num_scenarios());
    data.train = CheckingScenarios(std::move(data.train), n);
    data.valid = CheckingScenarios(std::move(data.valid), n);
    data.test = CheckingScenarios(std::move(data.test), n);
  }
  return data;
}

}  // namespace metaps
