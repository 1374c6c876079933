#include "cpu/stream.h"

#include <type_traits>
#include <vector>

#include "cpu/parallel.h"
#include "fastloss/config.h"

namespace fastloss::cpu {

double stream_f32(const float* const* reads, int n_reads, float* const* writes, int n_writes,
                  int64_t n) {
  const int64_t n_blocks = (n + kElementwiseBlock - 1) / kElementwiseBlock;
  std::vector<double> partial(n_blocks, 0.0);
  parallel_for(n_blocks, n, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t begin = b * kElementwiseBlock;
      const int64_t end = std::min(n, begin + kElementwiseBlock);
      // Fixed-width inner loops so the compiler emits plain vector loads, adds and stores.
      float acc[16] = {};
      auto step = [&](int64_t i, auto width) {
        constexpr int64_t m = decltype(width)::value;
        float v[m > 0 ? m : 1] = {};
        for (int r = 0; r < n_reads; ++r)
          for (int64_t k = 0; k < m; ++k) v[k] += reads[r][i + k];
        for (int w = 0; w < n_writes; ++w)
          for (int64_t k = 0; k < m; ++k) writes[w][i + k] = v[k];
        for (int64_t k = 0; k < m; ++k) acc[k] += v[k];
      };
      int64_t i = begin;
      for (; i + 16 <= end; i += 16) step(i, std::integral_constant<int64_t, 16>{});
      for (; i < end; ++i) step(i, std::integral_constant<int64_t, 1>{});
      double s = 0;
      for (float a : acc) s += a;
      partial[b] = s;
    }
  });
  return pairwise_sum(partial.data(), n_blocks);
}

}  // namespace fastloss::cpu
