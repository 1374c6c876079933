// The boundary between the generic CPU drivers and the code compiled once per instruction set:
// plain functions over pointers and counts, collected in one table per ISA. The drivers
// (elementwise.cc, rowwise.cc) never include the loss math; the per-ISA translation units never
// allocate, lock or throw.
#pragma once

#include <cstdint>

#include "fastloss/kernels.h"
#include "fastloss/embedding.h"
#include "fastloss/row.h"
#include "cpu/batch_table.h"

namespace fastloss::cpu {

// Computes the unweighted loss values and the gradient times grad_scale (when grad != nullptr)
// of n contiguous elements. p is the per-element parameter array for losses that take one. The
// values go to `value`, or, when value is nullptr, straight into the kSumLanes accumulators
// `lanes` (element i to lane i % kSumLanes, in the order FinishFn would add them). Returns the
// index of the first element outside the loss's domain, or -1 (the caller reports it as a
// ValueError). For the kernels whose functor writes more gradients (KernelInfo::functor_grads),
// grad_y and grad_p receive d/dy and d/dp times grad_scale: the driver then passes a value array
// and, with grad, both arrays (its staging buffers where a gradient is not wanted); for the
// others they are nullptr and ignored.
template <class T>
using PointwiseFn = int64_t (*)(const double* params, const T* x, const T* y, const T* p,
                                T* value, T* grad, T* grad_y, T* grad_p, T grad_scale, int64_t n,
                                double* lanes);

// Applies weights to one computed chunk, writes the outputs and adds the weighted values into
// kSumLanes fixed accumulation lanes.
template <class T>
struct FinishArgs {
  int64_t n;
  T* value;           // the computed values; weighted in place
  const T* grad;      // the scaled gradient (in grad_out), or nullptr when none was computed
  const T* weight;    // sample weights, or nullptr
  const T* upstream;  // per-element grad_output, or nullptr
  T* loss_out;        // nullptr unless reduction == none
  T* grad_out;        // nullptr when no gradient is wanted
  double* lanes;      // kSumLanes accumulators
};
template <class T>
using FinishFn = void (*)(const FinishArgs<T>&);

// The vectorised elementary functions of math.h, exposed so tests can check their ULP bounds.
enum class MathFn : int { exp, expm1, log, log1p, count };
constexpr int kNumMathFns = static_cast<int>(MathFn::count);
template <class T>
using MathProbeFn = void (*)(const T* x, T* y, int64_t n);

// Indexed by Kernel; nullptr for the row kernels.
struct ElementwiseTable {
  PointwiseFn<float> f32[kNumKernels];
  PointwiseFn<double> f64[kNumKernels];
  FinishFn<float> finish_f32;
  FinishFn<double> finish_f64;
  MathProbeFn<float> math_f32[kNumMathFns];
  MathProbeFn<double> math_f64[kNumMathFns];
};

// Row losses: one row of C logits (contiguous) at a time (RowArgs: fastloss/row.h).
// Returns the row's loss (unweighted by sample weights) and writes its scaled gradient.
template <class T>
using RowFn = double (*)(const RowArgs<T>&);

// kTileRows short rows at once (RowTile: fastloss/row.h), for the losses whose functor has a tile.
template <class T>
using TileFn = void (*)(RowTile<T>&);

// Indexed by Kernel; nullptr for the pointwise kernels (and, in tile_*, for the row losses
// without a tile form).
struct RowTable {
  RowFn<float> f32[kNumKernels];
  RowFn<double> f64[kNumKernels];
  TileFn<float> tile_f32[kNumKernels];
  TileFn<double> tile_f64[kNumKernels];
};

// Embedding losses: one row of D features of each input at a time (EmbeddingArgs:
// fastloss/embedding.h). Returns the row's loss and writes its scaled gradient rows.
template <class T>
using EmbeddingFn = double (*)(const EmbeddingArgs<T>&);
// Whether a row's label is valid (the functor's valid_label), for the kernels with one.
using LabelCheckFn = bool (*)(double);

// Indexed by Kernel; nullptr for the pointwise and row kernels (and, in valid_label, for the
// embedding kernels without a per-row label).
struct EmbeddingTable {
  EmbeddingFn<float> f32[kNumKernels];
  EmbeddingFn<double> f64[kNumKernels];
  LabelCheckFn valid_label[kNumKernels];
};

struct IsaKernels {
  const char* name;
  const ElementwiseTable* elementwise;
  const RowTable* rows;
  const EmbeddingTable* embedding;
  const BatchTable* batch;
};

// One per compiled ISA (defined in the per-ISA translation units).
#define FL_DECLARE_ISA(isa)                      \
  const ElementwiseTable& elementwise_table_##isa(); \
  const RowTable& row_table_##isa();       \
  const EmbeddingTable& embedding_table_##isa(); \
  const BatchTable& batch_table_##isa();
FL_DECLARE_ISA(baseline)
FL_DECLARE_ISA(avx2)
FL_DECLARE_ISA(avx512)
#undef FL_DECLARE_ISA

// The ISA the drivers use (see isa.cc): the best one this CPU supports, unless overridden.
const IsaKernels& active_kernels();
// Names of the ISA variants compiled into this build, best last.
const char* const* compiled_isas(int* count);
// Selects an ISA by name (for tests and benchmarks); false if it is not compiled or supported.
bool select_isa(const char* name);
bool isa_supported(const char* name);
// Why FASTLOSS_ISA could not be followed ("" when it was, or is unset).
const char* isa_override_problem();

}  // namespace fastloss::cpu
