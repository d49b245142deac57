#include "worker/batch.h"

#include "common/logging.h"

namespace metaps {

int BatchSchema::SlotIndex(const std::string& name) const {
  for (size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

void Batch::Reset(const BatchSchema& schema) {
  num_dense = schema.num_dense();
  slots.resize(schema.num_slots());
  for (size_t s = 0; s < slots.size(); ++s) slots[s].has_values = schema.slots[s].has_values;
  Clear();
}

void Batch::Clear() { Truncate(0); }

void Batch::FinishExample(float label, uint32_t scenario_id, uint64_t user_id, uint64_t item_id,
                          int64_t timestamp) {
  labels.push_back(label);
  METAPS_CHECK(dense.size() == labels.size() * num_dense)
      << "example " << labels.size() - 1 << " has "
      << dense.size() - (labels.size() - 1) * num_dense << " dense values, schema has "
      << num_dense;
  for (SparseSlot& slot : slots) {
    METAPS_CHECK(slot.keys.size() <= UINT32_MAX) << "slot overflows 32-bit offsets";
    slot.offsets.push_back(static_cast<uint32_t>(slot.keys.size()));
  }
  scenario_ids.push_back(scenario_id);
  user_ids.push_back(user_id);
  item_ids.push_back(item_id);
  timestamps.push_back(timestamp);
}

void Batch::AbortExample() { Truncate(size()); }

void Batch::Truncate(size_t n) {
  METAPS_CHECK(n <= size()) << n << " > " << size();
  labels.resize(n);
  dense.resize(n * num_dense);
  for (SparseSlot& slot : slots) {
    if (slot.offsets.empty()) slot.offsets.push_back(0);
    slot.offsets.resize(n + 1);
    slot.keys.resize(slot.offsets[n]);
    slot.values.resize(slot.has_values ? slot.offsets[n] : 0);
  }
  scenario_ids.resize(n);
  user_ids.resize(n);
  item_ids.resize(n);
  timestamps.resize(n);
}

void Batch::AppendRange(const Batch& src, size_t begin, size_t end) {
  METAPS_CHECK(begin <= end && end <= src.size()) << begin << ".." << end << " of " << src.size();
  METAPS_CHECK(src.num_dense == num_dense && src.slots.size() == slots.size())
      << "batches of different shapes";
  auto append = [begin, end](auto& to, const auto& from, size_t width) {
    to.insert(to.end(), from.begin() + static_cast<std::ptrdiff_t>(begin * width),
              from.begin() + static_cast<std::ptrdiff_t>(end * width));
  };
  append(labels, src.labels, 1);
  append(dense, src.dense, num_dense);
  for (size_t s = 0; s < slots.size(); ++s) {
    const SparseSlot& from = src.slots[s];
    SparseSlot& to = slots[s];
    const uint32_t first = from.offsets[begin];
    const uint32_t last = from.offsets[end];
    METAPS_CHECK(to.keys.size() + (last - first) <= UINT32_MAX) << "slot overflows 32-bit offsets";
    const uint32_t shift = static_cast<uint32_t>(to.keys.size()) - first;  // mod 2^32 on purpose
    to.keys.insert(to.keys.end(), from.keys.begin() + first, from.keys.begin() + last);
    if (to.has_values) {
      to.values.insert(to.values.end(), from.values.begin() + first, from.values.begin() + last);
    }
    for (size_t i = begin + 1; i <= end; ++i) to.offsets.push_back(from.offsets[i] + shift);
  }
  append(scenario_ids, src.scenario_ids, 1);
  append(user_ids, src.user_ids, 1);
  append(item_ids, src.item_ids, 1);
  append(timestamps, src.timestamps, 1);
}

}  // namespace metaps
