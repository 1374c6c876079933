// scan_weights (weight_scan.h): validity and sum of a weight view, without copying it.
#include "weight_scan.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "cpu/parallel.h"
#include "cpu/strided.h"
#include "fastloss/config.h"

namespace fastloss {
namespace {

using cpu::RunWalker;

// Elements per block: the unit of the fixed summation order and of the thread split.
constexpr int64_t kScanBlock = 8 * kChunk;
constexpr int kLanes = 8;

// The distinct elements of a view: its broadcast (stride-0) dimensions dropped and the rest
// coalesced (which keeps the C order). `replication` counts the copies of each element.
struct Distinct {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[1][kMaxDims] = {};
  int64_t count = 1;
  double replication = 1.0;
};

Distinct distinct_elements(const View& w) {
  Distinct d;
  for (int k = 0; k < w.ndim; ++k) {
    if (w.shape[k] == 0) {
      d.count = 0;
      return d;
    }
    if (w.strides[k] == 0) {
      d.replication *= double(w.shape[k]);
      continue;
    }
    d.shape[d.ndim] = w.shape[k];
    d.strides[0][d.ndim] = w.strides[k];
    d.count *= w.shape[k];
    ++d.ndim;
  }
  d.ndim = cpu::coalesce<1>(d.ndim, d.shape, d.strides);
  return d;
}

inline bool bad(double v) { return !(v >= 0.0 && v <= std::numeric_limits<double>::max()); }

// kLanes running sums, lane = flat index mod kLanes, fed run by run in C order (the kernels'
// reduction scheme: README "Accuracy"). The smallest element per lane finds negatives; NaN and
// infinities make the sum non-finite (as does an overflow, which the caller tells apart by
// looking again).
struct Lanes {
  double sum[kLanes] = {}, low[kLanes] = {};
  int lane = 0;  // the lane of the next element

  Lanes() {
    for (double& m : low) m = std::numeric_limits<double>::infinity();
  }

  void add(double x) {
    sum[lane] += x;
    low[lane] = std::min(low[lane], x);
    lane = (lane + 1) % kLanes;
  }

  void add_run(const double* v, int64_t n) {
    int64_t i = 0;
    for (; i < n && lane != 0; ++i) add(v[i]);
    // Local copies, so the compiler sees that `v` does not alias the lanes: vectorises.
    double s[kLanes], m[kLanes];
    std::copy(sum, sum + kLanes, s);
    std::copy(low, low + kLanes, m);
    for (; i + kLanes <= n; i += kLanes) {
      for (int k = 0; k < kLanes; ++k) {
        s[k] += v[i + k];
        m[k] = std::min(m[k], v[i + k]);  // NaN never lowers it; the sum catches NaN
      }
    }
    std::copy(s, s + kLanes, sum);
    std::copy(m, m + kLanes, low);
    for (; i < n; ++i) add(v[i]);
  }

  // The block's sum, or NaN when some element is negative, NaN or infinite (or the sum
  // overflowed).
  double value() const {
    double total = 0.0, lowest = low[0];
    for (int k = 0; k < kLanes; ++k) {
      total += sum[k];
      lowest = std::min(lowest, low[k]);
    }
    return std::isfinite(total) && lowest >= 0.0 ? total : std::numeric_limits<double>::quiet_NaN();
  }
};

}  // namespace

WeightScan scan_weights(const View& w) {
  WeightScan result;
  Distinct d = distinct_elements(w);
  if (d.count == 0) return result;
  const int64_t n_blocks = (d.count + kScanBlock - 1) / kScanBlock;
  std::vector<double> partial(n_blocks, 0.0);
  std::vector<int64_t> first_bad(n_blocks, -1);  // flat index of a block's first bad element
  std::vector<double> bad_value(n_blocks, 0.0);
  const char* base = static_cast<const char*>(w.data);
  const int64_t inner_stride = d.strides[0][d.ndim - 1];
  // Calls visit(run, length) over the elements [begin, begin + n) in C order.
  auto for_each_run = [&](int64_t begin, int64_t n, double* buffer, auto&& visit) {
    RunWalker<1> walk(d.ndim, d.shape, d.strides, begin);
    for (int64_t done = 0; done < n;) {
      const int64_t len = std::min({walk.run_left(), n - done, kChunk});
      visit(cpu::load_run<double>(base + walk.offset[0], inner_stride, w.dtype, len, buffer), len);
      done += len;
      walk.advance(len);
    }
  };
  cpu::parallel_for(n_blocks, d.count, [&](int64_t block_begin, int64_t block_end) {
    std::vector<double> buffer(kChunk);
    for (int64_t b = block_begin; b < block_end; ++b) {
      const int64_t begin = b * kScanBlock, n = std::min(kScanBlock, d.count - begin);
      Lanes lanes;
      for_each_run(begin, n, buffer.data(), [&](const double* run, int64_t len) {
        lanes.add_run(run, len);
      });
      partial[b] = lanes.value();
      if (!std::isnan(partial[b])) continue;
      // A bad element, or an overflow: look at the block again, element by element.
      int64_t index = begin;
      for_each_run(begin, n, buffer.data(), [&](const double* run, int64_t len) {
        for (int64_t i = 0; i < len && first_bad[b] < 0; ++i, ++index)
          if (bad(run[i])) {
            first_bad[b] = index;
            bad_value[b] = run[i];
          }
      });
      if (first_bad[b] < 0) partial[b] = std::numeric_limits<double>::infinity();  // overflow
    }
  });
  for (int64_t b = 0; b < n_blocks; ++b) {
    if (first_bad[b] >= 0) {
      result.valid = false;
      result.bad_value = bad_value[b];
      return result;
    }
  }
  result.total = cpu::pairwise_sum(partial.data(), n_blocks) * d.replication;
  return result;
}

}  // namespace fastloss
