// Side files of MovieLens (internal to movielens_reader.cc): user attributes
// and item genres, loaded whole and turned into ready-made slot keys.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "worker/data/movielens_reader.h"

namespace metaps {

struct MovieLensSideData {
  static constexpr int kUserAttributes = 4;  // gender, age, occupation, zip
  // Keys for slots first_user_slot .. + 3.
  std::unordered_map<uint64_t, std::array<uint64_t, kUserAttributes>> user_keys;
  // Keys for the genres slot.
  std::unordered_map<uint64_t, std::vector<uint64_t>> item_genre_keys;
};

Status LoadMovieLensUsers(MovieLensFlavor flavor, const std::string& path, uint32_t first_user_slot,
                          MovieLensSideData* side);
Status LoadMovieLensItems(MovieLensFlavor flavor, const std::string& path, uint32_t genre_slot,
                          MovieLensSideData* side);

}  // namespace metaps
