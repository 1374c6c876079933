// The scan of a weight operand (sample_weight, pos_weight, class weights, alpha) that the Python
// layer runs before a call: whether every element is finite and >= 0, and the sum the pointwise
// mean divides by. Device-neutral declaration; the CPU implementation is cpu/weights.cc.
#pragma once

#include <cstdint>

#include "fastloss/tensor.h"

namespace fastloss {

struct WeightScan {
  double total = 0.0;      // the sum of every element of the view, broadcast copies included
  bool valid = true;       // no element is NaN, infinite or negative
  double bad_value = 0.0;  // the first such element in C order, when !valid
};

// Reads `w` (a CPU view of any real dtype, any strides) in place: nothing is allocated in
// proportion to it. Broadcast (stride-0) dimensions are read once and their extent multiplies
// the sum, so a view of 3 x 2^31 copies of one value costs one element. The sum runs over the
// remaining elements in their logical C order, in 8 lanes by flat index per fixed block, the
// blocks combined pairwise in order (the kernels' scheme): the same bits for any memory layout
// (C, Fortran, strided) and any thread count.
WeightScan scan_weights(const View& w);

}  // namespace fastloss
