// Negative log-likelihood of one row of C log-probabilities x with class t and class weights c
// (torch.nn.functional.nll_loss):
//   loss = -c_t x_t,   d loss / d x_j = -c_t [j == t].
// Only the target's entry enters the loss, and the gradient does not depend on x: x_t = -inf
// gives +inf with the finite gradient -c_t. NaN anywhere in the row makes its loss and whole
// gradient row NaN (the README's rule for row losses; PyTorch reads only x_t).
//
// params: none. Class weights are read in the row (ClassWeight::in_row_and_mean: the mean also
// divides by the kept targets' weights, the driver's part).
#pragma once
#include "fastloss/math.h"
#include "fastloss/row.h"

FL_ISA_NAMESPACE_BEGIN

template <class T>
struct Nll {
  template <class Ops>
  FL_HOST_DEVICE double operator()(const RowArgs<T>& a, Ops& ops) const {
    const int64_t t = a.label;
    const T x_t = a.x[t];  // read before the gradient row is written
    const double c_t = a.class_weight ? double(a.class_weight[t]) : 1.0;
    if (ops.has_nan(a.x, a.classes)) return nan_row(a, ops);
    if (a.grad) {
      ops.fill(a.grad, a.classes, T(0));
      a.grad[t] = T(-c_t * a.grad_scale);
    }
    return -(c_t * double(x_t));
  }

  // kTileRows short rows at once (the RowTile contract of fastloss/row.h): the same gather, the
  // NaN test in class order, every per-row quantity an array over the lanes.
  FL_HOST_DEVICE void tile(RowTile<T>& t) const {
    constexpr int R = kTileRows;
    const int64_t n = t.classes;
    const T* x = t.x;
    T nan_seen[R];
    for (int r = 0; r < R; ++r) nan_seen[r] = T(0);
    for (int64_t j = 0; j < n; ++j)
      for (int r = 0; r < R; ++r) nan_seen[r] = x[j * R + r] != x[j * R + r] ? T(1) : nan_seen[r];
    double c_t[R];
    for (int r = 0; r < R; ++r) {
      c_t[r] = t.class_weight ? double(t.class_weight[t.label[r]]) : 1.0;
      const double loss = -(c_t[r] * double(x[t.label[r] * R + r]));
      t.loss[r] = nan_seen[r] != T(0) ? fl_nan<double>() : loss;
    }
    if (!t.grad) return;
    for (int64_t j = 0; j < n; ++j)
      for (int r = 0; r < R; ++r) t.grad[j * R + r] = nan_seen[r] != T(0) ? fl_nan<T>() : T(0);
    for (int r = 0; r < R; ++r)
      if (nan_seen[r] == T(0)) t.grad[t.label[r] * R + r] = T(-c_t[r] * t.grad_scale[r]);
  }
};

FL_ISA_NAMESPACE_END
