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
#include "worker/data/scenario_map.h"

namespace metaps {

struct MovieLensSideData {
  static constexpr int kUserAttributes = 4;  // gender, age, occupation, zip
  // Keys for slots first_user_slot .. + 3.
  std::unordered_map<uint64_t, std::array<uint64_t, kUserAttributes>> user_keys;
  // With a scenario map: each user's scenario id.
  std::unordered_map<uint64_t, uint32_t> user_scenario;
  // Keys for the genres slot.
  std::unordered_map<uint64_t, std::vector<uint64_t>> item_genre_keys;
};

// With `scenario` enabled (column gender, age or occupation), also fills
// user_scenario; an attribute value it cannot map is an error naming file:line.
Status LoadMovieLensUsers(MovieLensFlavor flavor, const std::string& path, uint32_t first_user_slot,
                          MovieLensSideData* side, const ScenarioMap& scenario = ScenarioMap());
Status LoadMovieLensItems(MovieLensFlavor flavor, const std::string& path, uint32_t genre_slot,
                          MovieLensSideData* side);

}  // namespace metaps
