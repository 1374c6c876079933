// Compiler glue shared by every backend, and the tuning constants of the CPU drivers.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define FL_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define FL_HOST_DEVICE inline __attribute__((always_inline))
#endif

#if defined(__CUDACC__)
#define FL_UNROLL _Pragma("unroll")
#else
#define FL_UNROLL _Pragma("GCC unroll 16")
#endif

// The loss math is compiled once per instruction set (baseline, AVX2, AVX-512). Everything that
// is compiled per ISA lives in an inline namespace named after it, so that the linker can never
// merge an AVX-512 instantiation of an inline function into the baseline code path.
#ifndef FL_ISA
#define FL_ISA generic
#endif
#define FL_ISA_NAMESPACE_BEGIN namespace fastloss { inline namespace FL_ISA {
#define FL_ISA_NAMESPACE_END } }

namespace fastloss {

// Elements per block of the pointwise driver. Blocks are the unit of work *and* of reduction:
// each block's partial sum is combined with the others in a fixed order, so the result does not
// depend on how many threads processed the blocks. Large enough to amortise scheduling, small
// enough that 2^20 elements already split into 32 blocks.
constexpr int64_t kElementwiseBlock = 1 << 15;

// Elements per chunk inside a block: the unit that is gathered (for strided or converted
// operands), computed and written back. Four chunks of float64 operands stay in L1.
constexpr int64_t kChunk = 1024;

// Row kernels are blocked by rows; a block holds at least this many logits.
constexpr int64_t kRowBlockElements = 1 << 15;

// Below this many elements (or logits) a call runs on the calling thread: waking workers costs
// more than the work.
constexpr int64_t kParallelMinElements = 1 << 16;

// Lanes of the per-block loss accumulator: fixed, so the summation order (and the bits) are the
// same for every ISA and thread count.
constexpr int kSumLanes = 8;

}  // namespace fastloss
