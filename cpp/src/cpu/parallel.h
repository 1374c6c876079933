// A small persistent thread pool. Work is always described as blocks whose boundaries depend on
// the problem size only; threads claim contiguous chunks of blocks as they come free, and every
// reduction combines per-block partials in block order, so results are bitwise identical for any
// thread count and whichever thread computed a block.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>

namespace fastloss::cpu {

int num_threads();
// n >= 1. Takes effect for the next call.
void set_num_threads(int n);

// Calls fn(first_block, end_block) on disjoint contiguous ranges covering [0, n_blocks), from any
// of the pool's threads (fn must not depend on which range or thread it gets). Runs on
// the calling thread alone when there is one block, one thread, less than kParallelMinElements of
// `work`, or when another call is already using the pool (the results are the same either way).
void parallel_for(int64_t n_blocks, int64_t work, const std::function<void(int64_t, int64_t)>& fn);

// Sum of v[0..n) in a fixed pairwise order: error O(log n) ulps instead of O(n).
double pairwise_sum(const double* v, int64_t n);

// Neumaier-compensated running sum, for single-threaded passes in a fixed order (the mean's
// denominator: the sum of the sample weights in row order).
struct CompensatedSum {
  double sum = 0, carry = 0;
  void add(double v) {
    const double t = sum + v;
    carry += std::fabs(sum) >= std::fabs(v) ? (sum - t) + v : (v - t) + sum;
    sum = t;
  }
  double value() const { return sum + carry; }
};

}  // namespace fastloss::cpu
