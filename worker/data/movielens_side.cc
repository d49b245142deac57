#include "worker/data/movielens_side.h"

#include "worker/data/feature_hash.h"
#include "worker/data/line_file.h"
#include "worker/data/text_fields.h"

namespace metaps {
namespace {

// ml-100k u.item genre flags, in column order (u.genre).
constexpr const char* k100KGenres[] = {
    "unknown",     "Action", "Adventure", "Animation", "Children's", "Comedy",  "Crime",
    "Documentary", "Drama",  "Fantasy",   "Film-Noir", "Horror",     "Musical", "Mystery",
    "Romance",     "Sci-Fi", "Thriller",  "War",       "Western"};
constexpr size_t kNum100KGenres = sizeof(k100KGenres) / sizeof(k100KGenres[0]);

Status BadSideLine(const LineFile& file, const std::string& why) {
  return InvalidArgument(file.path() + ":" + std::to_string(file.line_number()) + ": " + why);
}

// Calls parse(line) for each non-blank line, skipping a first line that starts
// with `header_prefix` (when given).
template <typename ParseFn>
Status ForEachLine(const std::string& path, const char* header_prefix, ParseFn parse) {
  ASSIGN_OR_RETURN(std::unique_ptr<LineFile> file, LineFile::Open(path));
  std::string_view line;
  for (;;) {
    ASSIGN_OR_RETURN(bool got, file->Next(&line));
    if (!got) return Status::Ok();
    if (TrimSpaces(line).empty()) continue;
    if (file->line_number() == 1 && header_prefix != nullptr &&
        line.substr(0, std::char_traits<char>::length(header_prefix)) == header_prefix) {
      continue;
    }
    std::string why = parse(line);
    if (!why.empty()) return BadSideLine(*file, why);
  }
}

}  // namespace

Status LoadMovieLensUsers(MovieLensFlavor flavor, const std::string& path, uint32_t first_user_slot,
                          MovieLensSideData* side, const ScenarioMap& scenario) {
  static const char* const kAttributeNames[] = {"gender", "age", "occupation", "zip"};
  int scenario_attribute = -1;
  for (int a = 0; a < MovieLensSideData::kUserAttributes && scenario.enabled(); ++a) {
    if (scenario.column() == kAttributeNames[a]) scenario_attribute = a;
  }
  if (scenario.enabled() && scenario_attribute < 0) {
    return InvalidArgument("data.scenario_from: '" + scenario.column() +
                           "' is not a MovieLens user attribute (gender, age, occupation)");
  }
  std::vector<std::string_view> fields;
  const char* header = flavor == MovieLensFlavor::kLatest ? "userId," : nullptr;
  return ForEachLine(path, header, [&](std::string_view line) -> std::string {
    // 100k: user|age|gender|occupation|zip;  1m: user::gender::age::occupation::zip;
    // latest (users.csv of `metaps datagen`): userId,gender,age,occupation,zip
    if (flavor == MovieLensFlavor::k100K) {
      SplitFields(line, '|', &fields);
    } else if (flavor == MovieLensFlavor::k1M) {
      SplitFields(line, "::", &fields);
    } else {
      SplitFields(line, ',', &fields);
    }
    if (fields.size() != 5) return "expected 5 fields, got " + std::to_string(fields.size());
    uint64_t user;
    if (!ParseUint64(fields[0], &user)) return "user id '" + std::string(fields[0]) + "'";
    const std::string_view gender = flavor == MovieLensFlavor::k100K ? fields[2] : fields[1];
    const std::string_view age = flavor == MovieLensFlavor::k100K ? fields[1] : fields[2];
    const std::string_view attributes[] = {gender, age, fields[3], fields[4]};
    std::array<uint64_t, MovieLensSideData::kUserAttributes> keys;
    for (int a = 0; a < MovieLensSideData::kUserAttributes; ++a) {
      keys[a] = HashToken(first_user_slot + a, attributes[a]);
    }
    side->user_keys[user] = keys;
    if (scenario_attribute >= 0) {
      std::string why;
      uint32_t id;
      if (!scenario.Map(attributes[scenario_attribute], &id, &why)) return why;
      side->user_scenario[user] = id;
    }
    return "";
  });
}

Status LoadMovieLensItems(MovieLensFlavor flavor, const std::string& path, uint32_t genre_slot,
                          MovieLensSideData* side) {
  std::vector<std::string_view> fields;
  std::vector<std::string> csv_fields;
  std::vector<std::string_view> genres;
  const char* header = flavor == MovieLensFlavor::kLatest ? "movieId," : nullptr;
  return ForEachLine(path, header, [&](std::string_view line) -> std::string {
    std::string_view id_field, genre_field;
    if (flavor == MovieLensFlavor::k100K) {
      SplitFields(line, '|', &fields);
      if (fields.size() < 5 + kNum100KGenres) {
        return "expected at least " + std::to_string(5 + kNum100KGenres) + " fields, got " +
               std::to_string(fields.size());
      }
      id_field = fields[0];
    } else if (flavor == MovieLensFlavor::k1M) {
      SplitFields(line, "::", &fields);
      if (fields.size() < 3) return "expected id::title::genres";
      id_field = fields[0];
      genre_field = fields.back();
    } else {
      if (!SplitQuotedCsv(line, &csv_fields)) return "unbalanced quotes";
      if (csv_fields.size() < 3) return "expected movieId,title,genres";
      id_field = csv_fields[0];
      genre_field = csv_fields.back();
    }
    uint64_t item;
    if (!ParseUint64(id_field, &item)) return "item id '" + std::string(id_field) + "'";
    std::vector<uint64_t>& keys = side->item_genre_keys[item];
    keys.clear();
    if (flavor == MovieLensFlavor::k100K) {
      const size_t first_flag = fields.size() - kNum100KGenres;
      for (size_t g = 0; g < kNum100KGenres; ++g) {
        const std::string_view flag = fields[first_flag + g];
        if (flag != "0" && flag != "1") return "genre flag '" + std::string(flag) + "' not 0/1";
        if (flag == "1") keys.push_back(HashToken(genre_slot, k100KGenres[g]));
      }
    } else {
      SplitFields(genre_field, '|', &genres);
      for (std::string_view genre : genres) {
        if (!genre.empty()) keys.push_back(HashToken(genre_slot, genre));
      }
    }
    return "";
  });
}

}  // namespace metaps
