// What a row kernel sees, on every device: one row of C logits and the row's target, and the
// contract of the row primitives each backend provides. A row loss is a functor in its
// losses/<stem>.h whose call operator, written once,
//
//   template <class Ops> FL_HOST_DEVICE double operator()(const RowArgs<T>& a, Ops& ops) const;
//
// returns the row's loss (before sample weights) and writes its gradient times a.grad_scale
// into a.grad (when given), using only the primitives below for the passes over the row (and
// single reads of entries it knows: x at the label, the labels of an index list). The
// CPU backend implements them with fixed 8-lane double accumulators (cpu/row_ops.h): their sums
// are in a fixed order, so the bits do not depend on threads or layout.
//
//   T      ops.max(x, n)            the largest of x[0..n), NaNs ignored (-inf for n == 0)
//   bool   ops.has_nan(x, n)
//   void   ops.fill(out, n, v)
//   void   ops.scale(out, n, c)     out[j] = c * out[j]
//   SoftmaxSums ops.softmax_sums<kTargetSums, kDense, kWeighted>(x, n, m, e, probs, c,
//                                                            q_scale, q_shift)
//          e_j = exp(x_j - m), stored in e[0..n) when e is given, and the sums of SoftmaxSums
//          with q_j = q_scale probs_j + q_shift (dense) or q_shift (sparse), c_j the class
//          weights (kWeighted) or 1. e may be the logits row itself (in-place gradients): the
//          primitive reads each part of x before writing it.
//   void   ops.softmax_grad<kDense, kWeighted>(g, n, a, b, probs, c, q_scale, q_shift)
//          g_j = b (a g_j - c_j q_j), in place (g holds the e_j of softmax_sums)
//   double ops.exp_sum_except(x, n, m, t, e)
//          sum_{j != t} exp(x_j - m), every e_j stored in e when given (e_t as 0)
//   MapSums ops.map_sums(x, n, out, out_scale, term)
//          term(j, x_j, value, slope) for each j; the sums of the values and of the slopes, and
//          out_scale * slope_j into out[j] when out is given (out may be x itself)
//   PairSums ops.pair_map_sums(x, y, n, gx, gy, term)
//          for two rows x, y of n values (target kind logits): term(x_j, y_j, gx_j, gy_j, v0, v1,
//          v2) for each j, where gx_j, gy_j are references to the elements of the rows gx, gy
//          (the values an earlier pass left there, to read or overwrite; a scratch element,
//          unspecified on entry and dropped after, where that row is nullptr) and v0..v2 (T&)
//          are added into the three sums returned. Neither gx nor gy may alias x or y (the
//          logits kind has no in-place gradients: later passes read x and y again).
//   FirstMax<T> ops.first_max(x, c, n, skip, term)
//          z_j = term(x_j, c_j) for j != skip (c_j = 1 where c is nullptr): the largest z_j,
//          NaNs ignored, and the first j holding it (-inf included: a row of -inf has its first
//          candidate); index -1 when no j != skip has a z_j that is not NaN. `nan` says whether
//          any z_j was NaN. The term is a pure function: a backend may evaluate it more than
//          once for one j.
//
// Short rows (C <= kTileMaxClasses) cost more per row than per logit when taken one at a time:
// the per-row scalar math (a logarithm, an exponential, divisions, the horizontal sums) is
// longer than the row. A functor may therefore also provide
//
//   FL_HOST_DEVICE void tile(RowTile<T>& t) const;
//
// which computes kTileRows rows at once from a transposed tile (logit j of lane r at
// x[j * kTileRows + r]), with every per-row quantity an array over the lanes, so that the loops
// over the lanes vectorise across rows. A backend that tiles rows calls it for every row of a
// call whose C is small enough; each lane's result depends only on its own row, never on which
// rows share its tile.
#pragma once

#include <cstdint>

#include "fastloss/config.h"
#include "fastloss/math.h"

namespace fastloss {

template <class T>
struct RowArgs {
  const T* x = nullptr;                // C logits
  int64_t classes = 0;                 // C
  int64_t label = -1;                  // class index for sparse targets (validated), else -1
  const T* probs = nullptr;            // dense target row (C values), or the indicator row of
                                       // an index list (1 at a listed class, else 0), else nullptr
  const int64_t* labels = nullptr;     // index-list targets: the row's valid class indices, in
  int64_t label_count = 0;             // order (duplicates kept), and how many; relevance_order:
                                       // the positions 0..C-1 by decreasing relevance (ties in
                                       // list order), and C
  const T* class_weight = nullptr;     // C weights the row reads (ClassWeight::in_row*)
  double class_weight_sum = 0.0;       // sum of class_weight (C when none)
  const double* params = nullptr;      // hyper-parameters, in the order the header documents
  bool has_label_value = false;        // AuxKind::per_class: label_value is aux 1 at the label
  double label_value = 0.0;
  T* grad = nullptr;                   // C gradient outputs, or nullptr
  double grad_scale = 1.0;             // multiplies the gradient of the row loss (both rows')
  const T* y = nullptr;                // target kind logits: the second logits row (C values)
  T* grad_y = nullptr;                 // its C gradient outputs, or nullptr
  bool has_label = false;              // target kind logits: a label was given (in label)
  double* work = nullptr;              // target kind relevance_order: 2C doubles of scratch
  const T* cost = nullptr;             // target kind sparse_cost: the row's C costs
                                       // Delta(label, .), or nullptr for 0/1 costs
};

inline constexpr int kTileRows = 16;
inline constexpr int64_t kTileMaxClasses = 32;

// kTileRows short rows, transposed: element j of lane r at [j * kTileRows + r]. Every lane holds
// a row to compute (the driver fills lanes without one with a copy of a valid row's inputs and
// discards their results).
template <class T>
struct RowTile {
  int64_t classes = 0;
  const T* x = nullptr;                // [classes][kTileRows] logits
  const T* probs = nullptr;            // dense targets in the same layout, else nullptr
  T* grad = nullptr;                   // [classes][kTileRows] gradient outputs, or nullptr
  const T* class_weight = nullptr;     // as RowArgs
  double class_weight_sum = 0.0;
  const double* params = nullptr;
  int64_t label[kTileRows] = {};       // sparse: each lane's class index, in range
  bool has_label_value = false;        // as RowArgs, per lane
  double label_value[kTileRows] = {};
  double grad_scale[kTileRows] = {};
  double loss[kTileRows] = {};         // out: each lane's row loss
};

// Sums of one softmax row: the non-maximal e_j, the number of maxima, and (with target sums)
// sum c_j q_j and sum c_j q_j (m - x_j).
struct SoftmaxSums {
  double s_small = 0, ties = 0, cq = 0, cq_gap = 0;
};

struct MapSums {
  double values = 0, slopes = 0;
};

struct PairSums {
  double v0 = 0, v1 = 0, v2 = 0;
};

template <class T>
struct FirstMax {
  T value;
  int64_t index = -1;
  bool nan = false;
};

}  // namespace fastloss

FL_ISA_NAMESPACE_BEGIN

// A +inf logit makes a softmax row NaN (loss and gradient), as in PyTorch.
template <class T, class Ops>
FL_HOST_DEVICE double nan_row(const RowArgs<T>& a, Ops& ops) {
  if (a.grad) ops.fill(a.grad, a.classes, fl_nan<T>());
  return fl_nan<double>();
}

FL_ISA_NAMESPACE_END
