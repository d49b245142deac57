#include "ps/page_memory.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

namespace metaps {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

}  // namespace

PageMemory::~PageMemory() { Release(); }

PageMemory::PageMemory(PageMemory&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(other.mapped_) {}

PageMemory& PageMemory::operator=(PageMemory&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = other.mapped_;
  }
  return *this;
}

void PageMemory::Release() {
  if (data_ != nullptr) {
    if (mapped_) {
      ::munmap(data_, size_);
    } else {
      std::free(data_);
    }
  }
  data_ = nullptr;
  size_ = 0;
}

StatusOr<PageMemory> PageMemory::Allocate(size_t bytes) {
  if (bytes == 0) return PageMemory();
  if (bytes < kHugePage) {
    // Small blocks come from malloc, which recycles freed memory that is already
    // faulted in; mmap would fault (and munmap discard) every page again.
    const size_t size = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, size);
    if (p == nullptr) {
      return ErrnoStatus("aligned_alloc of " + std::to_string(size) + " bytes", ENOMEM);
    }
    std::memset(p, 0, size);
    return PageMemory(p, size, /*mapped=*/false);
  }
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t size = (bytes + page - 1) / page * page;
  // Big blocks are 2 MiB-aligned so that huge pages can back them: map 2 MiB
  // more than needed and unmap the unaligned head and the tail.
  void* raw =
      ::mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return ErrnoStatus("mmap of " + std::to_string(size) + " bytes", errno);
  const uintptr_t addr = reinterpret_cast<uintptr_t>(raw);
  const size_t head = (kHugePage - addr % kHugePage) % kHugePage;
  char* p = static_cast<char*>(raw) + head;
  if (head > 0) ::munmap(raw, head);
  if (kHugePage - head > 0) ::munmap(p + size, kHugePage - head);
  // A hint only (THP in "madvise" mode honours it). METAPS_NO_HUGEPAGE=1
  // leaves it out, to measure what huge pages bring (table_bench).
  static const bool huge = [] {
    const char* no = std::getenv("METAPS_NO_HUGEPAGE");
    return no == nullptr || std::string(no) != "1";
  }();
  if (huge) (void)::madvise(p, size, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
  const bool populated = ::madvise(p, size, MADV_POPULATE_WRITE) == 0;
#else
  const bool populated = false;
#endif
  if (!populated) {  // older kernels: touch one byte per page
    auto* bytes_p = static_cast<volatile char*>(p);
    for (size_t off = 0; off < size; off += page) bytes_p[off] = 0;
  }
  return PageMemory(p, size, /*mapped=*/true);
}

}  // namespace metaps
