// Memory for buffers of several megabytes that are filled once, front to back (a downloaded
// flow package, the string constants of a large flow graph).
#pragma once

#include <cstddef>
#include <string>

namespace ferry::detail {

// Buffers at least this large are prepared as below; for smaller ones the system calls
// would cost more than they save.
inline constexpr std::size_t kBigBufferBytes = std::size_t{4} << 20;

// Prepares fresh memory (allocated by this process, not written yet) that is about to be
// written: [data, data + capacity) is the allocation, of which the first `will_write` bytes
// are about to be written. Does nothing below kBigBufferBytes.
//
// Why: the first write to each fresh 4 KB page is a page fault, and on a virtual machine a
// fault costs 10 to 40 µs; a 5 MB package downloaded into a fresh buffer took 15 ms of
// faults (1,280 of them), as long as its transfer, where curl writing to a file pays none.
// So the allocation's 2 MB-aligned part is advised to use transparent huge pages (one fault
// per 2 MB; madvise MADV_HUGEPAGE), and the part about to be written is populated in one
// system call (MADV_POPULATE_WRITE, Linux 5.14; at most 64 MB) instead of one fault per page:
// 5 MB in ~2 ms instead of ~15 ms here. Both are advice: a kernel without them, or without a free
// huge page, keeps 4 KB pages faulted on first write, and the buffer works the same.
void prepare_for_writing(void* data, std::size_t capacity, std::size_t will_write);

// buffer.reserve(size) for a buffer about to receive `size` bytes, prepared as above when
// the reservation made a new allocation.
void reserve_big(std::string& buffer, std::size_t size);

}  // namespace ferry::detail
