#include "core/big_buffer.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>

namespace ferry::detail {

namespace {

constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;
constexpr std::uintptr_t kPage = 4096;
// Populating commits memory before it is written: bounded, so a server announcing a larger
// body than it sends cannot make this process take much more memory than it used.
constexpr std::size_t kMostPopulated = std::size_t{64} << 20;

std::uintptr_t round_up(std::uintptr_t at, std::uintptr_t unit) {
  return (at + unit - 1) & ~(unit - 1);
}
std::uintptr_t round_down(std::uintptr_t at, std::uintptr_t unit) { return at & ~(unit - 1); }

// madvise over the whole `unit` pages inside [start, end): advice must not reach memory
// outside the allocation (the allocator's header, a neighbour). A failure (a kernel without
// the advice) leaves the memory as it was: nothing to do.
void advise_inside(std::uintptr_t start, std::uintptr_t end, std::uintptr_t unit, int advice) {
  const std::uintptr_t first = round_up(start, unit);
  const std::uintptr_t last = round_down(end, unit);
  if (last > first) (void)madvise(reinterpret_cast<void*>(first), last - first, advice);
}

}  // namespace

void prepare_for_writing(void* data, std::size_t capacity, std::size_t will_write) {
  if (capacity < kBigBufferBytes) return;
  const auto start = reinterpret_cast<std::uintptr_t>(data);
#ifdef MADV_HUGEPAGE
  advise_inside(start, start + capacity, kHugePage, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
  const std::size_t populate = std::min({will_write, capacity, kMostPopulated});
  advise_inside(start, start + populate, kPage, MADV_POPULATE_WRITE);
#endif
  (void)will_write;
}

void reserve_big(std::string& buffer, std::size_t size) {
  const bool fresh = size > buffer.capacity() && buffer.empty();
  buffer.reserve(size);
  // Memory already written gains nothing: only a new, empty allocation is prepared.
  if (fresh) prepare_for_writing(buffer.data(), buffer.capacity(), size);
}

}  // namespace ferry::detail
