#include "worker/data/movielens_reader.h"

#include <sys/stat.h>

#include "common/env.h"
#include "worker/data/feature_hash.h"
#include "worker/data/movielens_side.h"
#include "worker/data/text_fields.h"

namespace metaps {
namespace {

constexpr uint32_t kUserSlot = 0;
constexpr uint32_t kItemSlot = 1;

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Side data and slots shared, read-only, by a reader's parsers.
struct MovieLensSlots {
  MovieLensSideData side;
  int user_slot = -1;   // first of the user attribute slots, or -1
  int genre_slot = -1;  // or -1
};

class MovieLensParser : public LineParser {
 public:
  MovieLensParser(MovieLensFlavor flavor, const MovieLensOptions& format,
                  std::shared_ptr<const MovieLensSlots> slots)
      : flavor_(flavor), format_(format), slots_(std::move(slots)) {}

  bool ParseLine(std::string_view line, Batch* batch, std::string* reason) override {
    switch (flavor_) {
      case MovieLensFlavor::k100K:
        SplitFields(line, '\t', &fields_);
        break;
      case MovieLensFlavor::k1M:
        SplitFields(line, "::", &fields_);
        break;
      case MovieLensFlavor::kLatest:
        SplitFields(line, ',', &fields_);
        break;
    }
    if (fields_.size() != 4) {
      *reason = "expected 4 fields (user, item, rating, timestamp), got " +
                std::to_string(fields_.size());
      return false;
    }
    uint64_t user, item;
    double rating;
    int64_t timestamp;
    if (!ParseUint64(fields_[0], &user)) return Bad("user id", fields_[0], reason);
    if (!ParseUint64(fields_[1], &item)) return Bad("item id", fields_[1], reason);
    if (!ParseDouble(fields_[2], &rating)) return Bad("rating", fields_[2], reason);
    if (!ParseInt64(fields_[3], &timestamp)) return Bad("timestamp", fields_[3], reason);

    batch->AddKey(kUserSlot, HashId(kUserSlot, user));
    batch->AddKey(kItemSlot, HashId(kItemSlot, item));
    if (slots_->user_slot >= 0) {
      auto it = slots_->side.user_keys.find(user);
      if (it != slots_->side.user_keys.end()) {
        for (int a = 0; a < MovieLensSideData::kUserAttributes; ++a) {
          batch->AddKey(slots_->user_slot + a, it->second[a]);
        }
      }
    }
    if (slots_->genre_slot >= 0) {
      auto it = slots_->side.item_genre_keys.find(item);
      if (it != slots_->side.item_genre_keys.end()) {
        for (uint64_t key : it->second) batch->AddKey(slots_->genre_slot, key);
      }
    }
    const float label = format_.binary_label ? (rating > format_.rating_threshold ? 1.0f : 0.0f)
                                             : static_cast<float>(rating);
    uint32_t scenario = 0;
    if (format_.scenario.enabled()) {
      auto it = slots_->side.user_scenario.find(user);
      if (it == slots_->side.user_scenario.end()) {
        *reason = "user " + std::to_string(user) + " is not in the users file, so has no " +
                  format_.scenario.column() + " for data.scenario_from";
        return false;
      }
      scenario = it->second;
    }
    batch->FinishExample(label, scenario, user, item, timestamp);
    return true;
  }

 private:
  static bool Bad(const char* what, std::string_view field, std::string* reason) {
    *reason = std::string(what) + " '" + std::string(field.substr(0, 64)) + "' is not a number";
    return false;
  }

  const MovieLensFlavor flavor_;
  const MovieLensOptions format_;
  const std::shared_ptr<const MovieLensSlots> slots_;
  std::vector<std::string_view> fields_;
};

class MovieLensReader : public LineReader {
 public:
  MovieLensReader(const MovieLensFiles& files, const MovieLensOptions& format,
                  const ReaderOptions& options)
      : LineReader({files.ratings}, options),
        flavor_(files.flavor),
        format_(format),
        slots_(std::make_shared<MovieLensSlots>()) {
    schema_.slots.push_back({"user"});
    schema_.slots.push_back({"item"});
  }

  // Adds the side-file slots and loads them.
  Status LoadSideFiles(const MovieLensFiles& files) {
    if (!files.users.empty()) {
      slots_->user_slot = static_cast<int>(schema_.slots.size());
      for (const char* name : {"gender", "age", "occupation", "zip"})
        schema_.slots.push_back({name});
      RETURN_IF_ERROR(LoadMovieLensUsers(flavor_, files.users, slots_->user_slot, &slots_->side,
                                         format_.scenario));
    }
    if (!files.items.empty()) {
      slots_->genre_slot = static_cast<int>(schema_.slots.size());
      schema_.slots.push_back({"genres"});
      RETURN_IF_ERROR(LoadMovieLensItems(flavor_, files.items, slots_->genre_slot, &slots_->side));
    }
    return Status::Ok();
  }

 protected:
  std::unique_ptr<LineParser> NewParser() const override {
    return std::make_unique<MovieLensParser>(flavor_, format_, slots_);
  }

  StatusOr<bool> IsHeader(std::string_view line, const std::string&) const override {
    return flavor_ == MovieLensFlavor::kLatest && line.substr(0, 7) == "userId,";
  }

 private:
  const MovieLensFlavor flavor_;
  const MovieLensOptions format_;
  // Filled before the first Next, read-only after.
  const std::shared_ptr<MovieLensSlots> slots_;
};

}  // namespace

const char* MovieLensFlavorName(MovieLensFlavor flavor) {
  switch (flavor) {
    case MovieLensFlavor::k100K:
      return "ml-100k";
    case MovieLensFlavor::k1M:
      return "ml-1m";
    case MovieLensFlavor::kLatest:
      return "ml-latest";
  }
  return "?";
}

StatusOr<MovieLensFiles> DetectMovieLens(const std::string& dir) {
  struct Layout {
    MovieLensFlavor flavor;
    const char* ratings;
    const char* users;
    const char* items;
  };
  static const Layout kLayouts[] = {
      {MovieLensFlavor::k100K, "u.data", "u.user", "u.item"},
      {MovieLensFlavor::k1M, "ratings.dat", "users.dat", "movies.dat"},
      {MovieLensFlavor::kLatest, "ratings.csv", "users.csv", "movies.csv"},
  };
  const std::string prefix = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  for (const Layout& layout : kLayouts) {
    if (!IsRegularFile(prefix + layout.ratings)) continue;
    MovieLensFiles files;
    files.flavor = layout.flavor;
    files.ratings = prefix + layout.ratings;
    if (layout.users != nullptr && IsRegularFile(prefix + layout.users)) {
      files.users = prefix + layout.users;
    }
    if (IsRegularFile(prefix + layout.items)) files.items = prefix + layout.items;
    return files;
  }
  return NotFound(dir + ": no MovieLens ratings file (u.data, ratings.dat or ratings.csv)");
}

StatusOr<MovieLensFiles> DetectMovieLensSplit(const std::string& dir, const std::string& split) {
  MovieLensFiles files;
  files.flavor = MovieLensFlavor::kLatest;
  files.ratings = JoinPath(dir, split + ".ratings.csv");
  if (!IsRegularFile(files.ratings)) {
    return NotFound(files.ratings +
                    ": no such ratings file (write it with metaps datagen --kind "
                    "ratings --out " +
                    dir + ")");
  }
  if (IsRegularFile(JoinPath(dir, "users.csv"))) files.users = JoinPath(dir, "users.csv");
  if (IsRegularFile(JoinPath(dir, "movies.csv"))) files.items = JoinPath(dir, "movies.csv");
  return files;
}

StatusOr<std::unique_ptr<Reader>> OpenMovieLensReader(const MovieLensFiles& files,
                                                      const MovieLensOptions& format,
                                                      const ReaderOptions& options) {
  RETURN_IF_ERROR(LineReader::ValidateOptions({files.ratings}, options));
  if (format.scenario.enabled() && (files.users.empty() || !format.use_side_files)) {
    return InvalidArgument(
        "data.scenario_from: '" + format.scenario.column() +
        "' needs the MovieLens users file (u.user, users.dat or users.csv) beside " +
        files.ratings +
        (files.users.empty() ? ", and there is none (GroupLens ml-latest ships no users file)"
                             : ", but side files are off (data.ignore_side_files)"));
  }
  auto reader = std::make_unique<MovieLensReader>(files, format, options);
  if (format.use_side_files) RETURN_IF_ERROR(reader->LoadSideFiles(files));
  return std::unique_ptr<Reader>(std::move(reader));
}

}  // namespace metaps
