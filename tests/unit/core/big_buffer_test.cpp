// prepare_for_writing and reserve_big: which pages are made resident before they are
// written (checked with mincore), and that the memory works as before.
#include "core/big_buffer.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using ferry::detail::kBigBufferBytes;
using ferry::detail::prepare_for_writing;
using ferry::detail::reserve_big;

constexpr std::size_t kMiB = std::size_t{1} << 20;
const std::size_t kPage = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));

// A fresh anonymous mapping, unmapped at the end of the test.
struct Mapping {
  explicit Mapping(std::size_t n) : size(n) {
    void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    data = p == MAP_FAILED ? nullptr : static_cast<char*>(p);
  }
  ~Mapping() {
    if (data) munmap(data, size);
  }
  char* data;
  std::size_t size;
};

// How many of the pages in [at, at + n) are resident (at page-aligned).
std::size_t resident_pages(const char* at, std::size_t n) {
  std::vector<unsigned char> flags((n + kPage - 1) / kPage);
  if (mincore(const_cast<char*>(at), n, flags.data()) != 0) return SIZE_MAX;
  std::size_t count = 0;
  for (unsigned char f : flags) count += f & 1;
  return count;
}

// Whether this kernel populates on request (Linux 5.14 and later).
bool kernel_populates() {
  Mapping probe(kPage);
  return probe.data && madvise(probe.data, kPage, MADV_POPULATE_WRITE) == 0;
}

TEST(BigBuffer, PopulatesWhatIsAboutToBeWrittenBeforeItIsWritten) {
  if (!kernel_populates()) GTEST_SKIP() << "this kernel has no MADV_POPULATE_WRITE (Linux < 5.14)";
  Mapping m(16 * kMiB);
  ASSERT_NE(m.data, nullptr);
  ASSERT_EQ(resident_pages(m.data, m.size), 0u) << "a fresh mapping has no pages yet";
  prepare_for_writing(m.data, m.size, 8 * kMiB);
  EXPECT_EQ(resident_pages(m.data, 8 * kMiB), 8 * kMiB / kPage);
  // Beyond what will be written, at most the rest of one 2 MB huge page is resident.
  EXPECT_EQ(resident_pages(m.data + 10 * kMiB, 6 * kMiB), 0u);
}

TEST(BigBuffer, SmallBuffersAreLeftAlone) {
  Mapping m(kBigBufferBytes);
  ASSERT_NE(m.data, nullptr);
  prepare_for_writing(m.data, kBigBufferBytes - 1, kBigBufferBytes - 1);
  EXPECT_EQ(resident_pages(m.data, m.size), 0u);
}

TEST(BigBuffer, PopulatesAtMost64MiB) {
  if (!kernel_populates()) GTEST_SKIP() << "this kernel has no MADV_POPULATE_WRITE (Linux < 5.14)";
  Mapping m(80 * kMiB);
  ASSERT_NE(m.data, nullptr);
  prepare_for_writing(m.data, m.size, m.size);  // a server announcing more than it sends
  EXPECT_EQ(resident_pages(m.data, 64 * kMiB), 64 * kMiB / kPage);
  EXPECT_EQ(resident_pages(m.data + 68 * kMiB, 12 * kMiB), 0u);
}

TEST(BigBuffer, ReservedStringsHoldWhatIsWritten) {
  for (std::size_t size : {std::size_t{100}, kBigBufferBytes, 5 * kMiB + 3}) {
    std::string s;
    reserve_big(s, size);
    EXPECT_GE(s.capacity(), size);
    EXPECT_TRUE(s.empty());
    for (std::size_t i = 0; i < size; ++i) s.push_back(static_cast<char>('a' + i % 26));
    ASSERT_EQ(s.size(), size);
    EXPECT_EQ(s[size - 1], static_cast<char>('a' + (size - 1) % 26));
  }
  // A string already holding bytes keeps them; a smaller reservation changes nothing.
  std::string kept = "kept";
  reserve_big(kept, 6 * kMiB);
  EXPECT_EQ(kept, "kept");
  EXPECT_GE(kept.capacity(), 6 * kMiB);
  const std::size_t capacity = kept.capacity();
  reserve_big(kept, 10);
  EXPECT_EQ(kept.capacity(), capacity);
}

}  // namespace
