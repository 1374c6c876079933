// The roofline reference: a zero-compute, multithreaded stream with a chosen traffic pattern.
// The benchmark divides each loss kernel's effective bandwidth by this one's, measured in the
// same run on the same arrays, so "fraction of the roofline" means fraction of what the memory
// system delivers for that many reads and writes.
#pragma once

#include <cstdint>

namespace fastloss::cpu {

// Reads `n_reads` float32 arrays of n elements and writes their element-wise sum to each of the
// `n_writes` outputs (or, with no outputs, returns the sum so nothing is optimised away). Uses the
// same blocking and thread pool as the loss kernels.
double stream_f32(const float* const* reads, int n_reads, float* const* writes, int n_writes,
                  int64_t n);

}  // namespace fastloss::cpu
