#include "worker/dataset.h"

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
      }
    }
    return Status::Ok();
  }
  const BatchSchema& schema() const override { return inner_->schema(); }
  const ReaderStats& stats() const override { return inner_->stats(); }

 private:
  std::unique_ptr<Reader> inner_;
  uint64_t seed_;
  double lo_, hi_;
  size_t batch_size_;
  Batch buffer_;
  size_t pos_ = 0;
};

}  // namespace

StatusOr<TrainerData> OpenDataSources(const config::JobConfig& job, const std::string& data_dir) {
  const auto& d = job.data();
  TrainerData data;
  MovieLensOptions ml;
  ml.binary_label = d.binary_label();
  ml.rating_threshold = d.rating_threshold();
  ml.use_side_files = !d.ignore_side_files();
  const std::string& format = d.format();
  if (format == "criteo" || format == "avazu" || format == "libsvm" || format == "ffm") {
    FileOpener open;
    if (format == "criteo") open = OpenCriteoReader;
    if (format == "avazu") open = OpenAvazuReader;
    if (format == "libsvm" || format == "ffm") {
      LibsvmOptions lo;
      lo.ffm = format == "ffm";
      lo.binary_label = job.model().loss() == "logistic";
      open = [lo](std::vector<std::string> f, const ReaderOptions& o) {
        return OpenLibsvmReader(std::move(f), lo, o);
      };
    }
    if (d.train().empty()) return InvalidArgument("data.train: no files for format " + format);
    data.train = FilesFactory(open, ResolveAll(data_dir, d.train()));
    data.valid = FilesFactory(open, ResolveAll(data_dir, d.valid()));
    data.test = FilesFactory(open, ResolveAll(data_dir, d.test()));
  } else if (format == "datagen-ctr" || format == "datagen-scenarios") {
    const bool ctr = format == "datagen-ctr";
    FileOpener open = ctr ? FileOpener(OpenCriteoReader) : FileOpener(OpenScenarioReader);
    const std::string ext = ctr ? ".txt" : ".csv";
    data.train = FilesFactory(open, {Resolve(data_dir, "train" + ext)});
    data.valid = FilesFactory(open, {Resolve(data_dir, "valid" + ext)});
    data.test = FilesFactory(open, {Resolve(data_dir, "test" + ext)});
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
  return data;
}

}  // namespace metaps
