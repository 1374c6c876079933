// Output buffers recycled across calls.
//
// A freshly allocated multi-megabyte array makes its first writer take a page fault per page,
// and the operating system zeroes each page first: for a memory-bound fused loss that is about a
// third of the call (cross-entropy on 4096 x 32000 float32 logits, 2 threads: ~158 ms into a
// fresh gradient, ~94 ms into a reused one). Large outputs are therefore built on blocks that go
// back to a small cache when the array's last view dies, and the next output of the same
// rounded size reuses one warm, as PyTorch's CUDA caching allocator does. The cache keeps at most
// `limit` bytes of idle blocks (FASTLOSS_OUTPUT_CACHE_MB, fastloss.set_output_cache); blocks it
// cannot keep are freed at once. Live blocks are reported to tracemalloc like NumPy's own
// allocations; idle ones are not (they belong to no array).
#include "output_buffers.h"

#include <pybind11/stl.h>
#include <dlfcn.h>
#include <sys/mman.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include "fastloss/check.h"

namespace fastloss::bindings {
namespace {

namespace py = pybind11;

constexpr size_t kHugePage = size_t(2) << 20;
constexpr unsigned int kTraceDomain = 0x666c;  // tracemalloc domain of these blocks ("fl")

// FASTLOSS_OUTPUT_CACHE_MB: a whole number of MiB from 0 to 2^30 (1 PiB); anything else (a sign,
// a unit, a value that would wrap) is an error of the first call that allocates an output.
size_t default_limit() {
  const char* mb = std::getenv("FASTLOSS_OUTPUT_CACHE_MB");
  if (!mb) return size_t(2) << 30;  // 2 GiB of idle blocks at most
  const std::string text(mb);
  const bool digits = !text.empty() && text.size() <= 10 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  const unsigned long long value = digits ? std::strtoull(mb, nullptr, 10) : 0;
  FL_CHECK(digits && value <= (1ull << 30), "output cache",
           "FASTLOSS_OUTPUT_CACHE_MB must be a whole number of MiB from 0 to 1073741824, got '",
           text, "'");
  return size_t(value) << 20;
}

class BlockCache {
 public:
  // A block of `bytes` (a multiple of kHugePage): an idle one of that size, else a new one.
  void* take(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = idle_.find(bytes);
      if (it != idle_.end()) {
        void* p = it->second;
        idle_.erase(it);
        idle_bytes_ -= bytes;
        ++reused_;
        return p;
      }
      ++allocated_;
    }
    void* p = nullptr;
    if (posix_memalign(&p, kHugePage, bytes) != 0) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);  // fewer, larger page faults on first touch (as NumPy does)
#endif
    return p;
  }

  void give(void* p, size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (idle_bytes_ + bytes <= limit_) {
        idle_.emplace(bytes, p);
        idle_bytes_ += bytes;
        return;
      }
    }
    std::free(p);
  }

  void set_limit(size_t limit) {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = limit;
    trim_locked();
  }

  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t keep = limit_;
    limit_ = 0;
    trim_locked();
    limit_ = keep;
  }

  py::dict stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    py::dict d;
    d["limit_bytes"] = limit_;
    d["idle_bytes"] = idle_bytes_;
    d["idle_blocks"] = idle_.size();
    d["allocated"] = allocated_;
    d["reused"] = reused_;
    return d;
  }

 private:
  void trim_locked() {
    while (idle_bytes_ > limit_ && !idle_.empty()) {
      auto it = std::prev(idle_.end());  // the largest first
      idle_bytes_ -= it->first;
      std::free(it->second);
      idle_.erase(it);
    }
  }

  std::mutex mutex_;
  std::multimap<size_t, void*> idle_;
  size_t idle_bytes_ = 0;
  size_t limit_ = default_limit();
  size_t allocated_ = 0, reused_ = 0;
};

BlockCache& cache() {
  static BlockCache* c = new BlockCache();  // never destroyed: arrays may outlive module teardown
  return *c;
}

// tracemalloc's C API, looked up at run time: CPython 3.11's tracemalloc.h declares it without
// C linkage for C++ callers.
struct TraceMalloc {
  using Track = int (*)(unsigned int, uintptr_t, size_t);
  using Untrack = int (*)(unsigned int, uintptr_t);
  Track track = reinterpret_cast<Track>(dlsym(RTLD_DEFAULT, "PyTraceMalloc_Track"));
  Untrack untrack = reinterpret_cast<Untrack>(dlsym(RTLD_DEFAULT, "PyTraceMalloc_Untrack"));
};

const TraceMalloc& tracemalloc() {
  static const TraceMalloc t;
  return t;
}

struct Block {
  void* data;
  size_t bytes;
};

}  // namespace

py::array new_output(const std::vector<py::ssize_t>& shape, DType dtype) {
  const size_t itemsize = dtype == DType::f32 ? 4 : 8;
  size_t nbytes = itemsize;
  for (py::ssize_t n : shape) nbytes *= size_t(n);
  const py::dtype dt = dtype == DType::f32 ? py::dtype::of<float>() : py::dtype::of<double>();
  if (nbytes < kCachedOutputMinBytes) return py::array(dt, shape);
  const size_t bytes = (nbytes + kHugePage - 1) / kHugePage * kHugePage;
  auto* block = new Block{cache().take(bytes), bytes};
  const auto address = reinterpret_cast<uintptr_t>(block->data);
  if (tracemalloc().track) tracemalloc().track(kTraceDomain, address, nbytes);
  py::capsule owner(block, [](void* p) {
    auto* b = static_cast<Block*>(p);
    const auto address = reinterpret_cast<uintptr_t>(b->data);
    if (tracemalloc().untrack) tracemalloc().untrack(kTraceDomain, address);
    cache().give(b->data, b->bytes);
    delete b;
  });
  return py::array(dt, shape, block->data, owner);
}

void bind_output_buffers(py::module_& m) {
  m.def("new_output", [](const std::vector<py::ssize_t>& shape, const std::string& dtype) {
    FL_CHECK(dtype == "float32" || dtype == "float64", "new_output",
             "dtype must be float32 or float64");
    return new_output(shape, dtype == "float32" ? DType::f32 : DType::f64);
  });
  m.def("set_output_cache_limit", [](size_t bytes) { cache().set_limit(bytes); });
  m.def("release_output_cache", [] { cache().release(); });
  m.def("output_cache_stats", [] { return cache().stats(); });
}

}  // namespace fastloss::bindings
