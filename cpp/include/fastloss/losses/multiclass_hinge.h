// Multi-class hinge of one row with class t and margin m, h_j = max(0, m + x_j - x_t) for j != t:
//   weston_watkins: sum_{j != t} h_j^p          (the lecture's one-vs-all sum; not divided by C)
//   crammer_singer: (max_{j != t} h_j)^p
// with p = 2 when squared. d/dx_j = p h_j^(p-1) [h_j > 0] for the terms that count, and d/dx_t is
// minus their sum; the subgradient at h_j == 0 is 0 and crammer_singer credits the first argmax.
// NaN anywhere in the row makes its loss and whole gradient row NaN.
//
// params: [margin, squared (0 or 1)]. Class weights scale the row (ClassWeight::factor: the
// driver's part).
#pragma once
#include "fastloss/math.h"
#include "fastloss/row.h"

FL_ISA_NAMESPACE_BEGIN

// h^p and its derivative, NaN-propagating.
template <class T>
FL_HOST_DEVICE void hinge_term(T h, bool squared, T& value, T& slope) {
  T hp = h < T(0) ? T(0) : h;
  value = squared ? hp * hp : hp;
  T s = squared ? T(2) * hp : (hp > T(0) ? T(1) : T(0));
  slope = h != h ? h : s;
}

template <class T>
struct MulticlassHingeWestonWatkins {
  template <class Ops>
  FL_HOST_DEVICE double operator()(const RowArgs<T>& a, Ops& ops) const {
    const int64_t n = a.classes;
    const int64_t t = a.label;
    const T x_t = a.x[t];  // read before the gradient row is written
    const T margin = T(a.params[0]);
    const bool squared = a.params[1] != 0;
    const MapSums sums =
        ops.map_sums(a.x, n, a.grad, T(a.grad_scale), [&](int64_t j, T x_j, T& value, T& slope) {
          hinge_term(margin + x_j - x_t, squared, value, slope);
          value = j == t ? T(0) : value;
          slope = j == t ? T(0) : slope;
        });
    if (a.grad) {
      a.grad[t] = T(-a.grad_scale * sums.slopes);
      if (sums.values != sums.values) ops.fill(a.grad, n, fl_nan<T>());
    }
    return sums.values;
  }

  // kTileRows short rows at once (the RowTile contract of fastloss/row.h): the same terms, the
  // sums over the row in class order, every per-row quantity an array over the lanes.
  FL_HOST_DEVICE void tile(RowTile<T>& t) const {
    constexpr int R = kTileRows;
    const int64_t n = t.classes;
    const T* x = t.x;
    const T margin = T(t.params[0]);
    const bool squared = t.params[1] != 0;
    T x_t[R], scale[R];
    double values[R], slopes[R];
    for (int r = 0; r < R; ++r) {
      x_t[r] = x[t.label[r] * R + r];
      scale[r] = T(t.grad_scale[r]);
      values[r] = slopes[r] = 0.0;
    }
    for (int64_t j = 0; j < n; ++j) {
      for (int r = 0; r < R; ++r) {
        T value, slope;
        hinge_term(margin + x[j * R + r] - x_t[r], squared, value, slope);
        const bool counts = j != t.label[r];
        values[r] += counts ? double(value) : 0.0;
        slopes[r] += counts ? double(slope) : 0.0;
        if (t.grad) t.grad[j * R + r] = counts ? scale[r] * slope : T(0);
      }
    }
    for (int r = 0; r < R; ++r) t.loss[r] = values[r];
    if (!t.grad) return;
    for (int r = 0; r < R; ++r) t.grad[t.label[r] * R + r] = T(-t.grad_scale[r] * slopes[r]);
    for (int64_t j = 0; j < n; ++j)
      for (int r = 0; r < R; ++r)
        t.grad[j * R + r] = values[r] != values[r] ? fl_nan<T>() : t.grad[j * R + r];
  }
};

template <class T>
struct MulticlassHingeCrammerSinger {
  template <class Ops>
  FL_HOST_DEVICE double operator()(const RowArgs<T>& a, Ops& ops) const {
    const T* x = a.x;  // every read of x precedes the first write of the gradient row
    const int64_t n = a.classes;
    const int64_t t = a.label;
    // The largest competitor: maxima on both sides of t, then the first index holding it. Any
    // NaN (or inf - inf) in the row makes the loss NaN.
    const T left = ops.max(x, t), right = ops.max(x + t + 1, n - t - 1);
    const T best_value = right > left ? right : left;
    int64_t best = -1;
    for (int64_t j = 0; j < n && best < 0; ++j)
      if (j != t && x[j] == best_value) best = j;
    const bool any_nan = ops.has_nan(x, n);
    T value = T(0), slope = T(0);
    if (best >= 0) hinge_term(T(a.params[0]) + x[best] - x[t], a.params[1] != 0, value, slope);
    if (any_nan) value = slope = fl_nan<T>();
    if (a.grad) {
      ops.fill(a.grad, n, any_nan ? fl_nan<T>() : T(0));
      if (best >= 0 && !any_nan) {
        a.grad[best] = T(a.grad_scale) * slope;
        a.grad[t] = -T(a.grad_scale) * slope;
      }
    }
    return double(value);
  }

  // kTileRows short rows at once (the RowTile contract of fastloss/row.h): the competitor is
  // found in class order (the first index of the largest x_j, j != t, as above).
  FL_HOST_DEVICE void tile(RowTile<T>& t) const {
    constexpr int R = kTileRows;
    const int64_t n = t.classes;
    const T* x = t.x;
    const T margin = T(t.params[0]);
    const bool squared = t.params[1] != 0;
    // Every per-lane quantity in T (the index too: exact below 2^24 > kTileMaxClasses), so that
    // the loop over the lanes is one vector of T.
    T best_value[R], best[R], nan_seen[R], label[R];
    for (int r = 0; r < R; ++r) {
      best_value[r] = -fl_inf<T>();
      best[r] = T(-1);
      nan_seen[r] = T(0);
      label[r] = T(t.label[r]);
    }
    for (int64_t j = 0; j < n; ++j) {
      const T index = T(j);
      for (int r = 0; r < R; ++r) {
        const T x_j = x[j * R + r];
        // The first candidate is taken whatever its value (a row of -inf competitors has one).
        const bool take = index != label[r] && (best[r] < T(0) || x_j > best_value[r]);
        best_value[r] = take ? x_j : best_value[r];
        best[r] = take ? index : best[r];
        nan_seen[r] = x_j != x_j ? T(1) : nan_seen[r];
      }
    }
    bool any_nan[R];
    for (int r = 0; r < R; ++r) any_nan[r] = nan_seen[r] != T(0);
    T value[R], slope[R];
    for (int r = 0; r < R; ++r) {
      const T x_t = x[t.label[r] * R + r];
      value[r] = slope[r] = T(0);
      if (best[r] >= T(0)) hinge_term(margin + best_value[r] - x_t, squared, value[r], slope[r]);
      if (any_nan[r]) value[r] = slope[r] = fl_nan<T>();
      t.loss[r] = double(value[r]);
    }
    if (!t.grad) return;
    for (int64_t j = 0; j < n; ++j)
      for (int r = 0; r < R; ++r) t.grad[j * R + r] = any_nan[r] ? fl_nan<T>() : T(0);
    for (int r = 0; r < R; ++r) {
      if (best[r] < T(0) || any_nan[r]) continue;
      t.grad[int64_t(best[r]) * R + r] = T(t.grad_scale[r]) * slope[r];
      t.grad[t.label[r] * R + r] = -T(t.grad_scale[r]) * slope[r];
    }
  }
};

FL_ISA_NAMESPACE_END
